/**
 * The practice topics: one generator per file in this directory, listed
 * here in the order `dma-lab practice` rotates through them. A drill is
 * fully determined by (topic, seed): the review store keeps only those.
 */
import { Rng, topicSalt } from './rng.ts';
import type { Drill } from './drill.ts';
import * as smmuEvent from './smmu-event.ts';
import * as dmarFault from './dmar-fault.ts';
import * as iovaSplit from './iova-split.ts';
import * as swiotlb from './swiotlb-bounce.ts';
import * as vring from './vring.ts';

export interface Topic {
  name: string;
  summary: string;
  generate(r: Rng, seed: number): Drill;
}

export const TOPICS: readonly Topic[] = [
  { name: smmuEvent.TOPIC, summary: smmuEvent.SUMMARY, generate: smmuEvent.generate },
  { name: dmarFault.TOPIC, summary: dmarFault.SUMMARY, generate: dmarFault.generate },
  { name: iovaSplit.TOPIC, summary: iovaSplit.SUMMARY, generate: iovaSplit.generate },
  { name: swiotlb.TOPIC, summary: swiotlb.SUMMARY, generate: swiotlb.generate },
  { name: vring.TOPIC, summary: vring.SUMMARY, generate: vring.generate },
];

export const topicByName = (name: string): Topic | undefined => TOPICS.find((t) => t.name === name);

/** Seeds are u32: what --seed accepts and the review store keeps. */
export const MAX_SEED = 0xffff_ffff;

/** The drill of a topic and seed: the same on every run. */
export function makeDrill(topic: Topic, seed: number): Drill {
  return topic.generate(new Rng(seed, topicSalt(topic.name)), seed);
}

/** Without a topic, drill i of a session with seed S is topic (S + i) mod n, seed S + i. */
export function sessionDrills(topic: Topic | undefined, seed: number, count: number): { topic: Topic; seed: number }[] {
  const out: { topic: Topic; seed: number }[] = [];
  for (let i = 0; i < count; i++) {
    const s = (seed + i) % (MAX_SEED + 1);
    out.push({ topic: topic ?? TOPICS[s % TOPICS.length]!, seed: s });
  }
  return out;
}
