/** Home screen: what the lab is, the machines to explore, and how to leave. */
import { Box, Text, useApp, useInput } from 'ink';
import { PRESETS } from '../scenarios/index.ts';

export function Home({ color }: { color: boolean }) {
  const { exit } = useApp();
  useInput((input, key) => {
    if (input === 'q' || (key.ctrl && input === 'd')) exit();
  });
  const c = (x: string) => (color ? x : undefined);
  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold color={c('cyan')}>
        dma-lab
      </Text>
      <Text>A lab for how devices reach memory: DMA, IOMMUs, the Linux DMA API, virtio rings.</Text>
      <Box marginTop={1} flexDirection="column">
        <Text bold>Machines</Text>
        {PRESETS.map((p) => (
          <Text key={p.name}>
            {'  '}
            <Text color={c('green')}>{p.name.padEnd(18)}</Text>
            {p.summary}
          </Text>
        ))}
      </Box>
      <Box marginTop={1} flexDirection="column">
        <Text dimColor>Lessons arrive with the notebook. Until then: dma-lab repl --machine NAME</Text>
        <Text dimColor>q quit</Text>
      </Box>
    </Box>
  );
}
