/**
 * The lesson view and the machine model, loaded once, after the home
 * screen's first frame (run.tsx starts the load; issue 15). Whatever needs
 * them and comes first (Enter on home within the first moments) waits for
 * the same load: it never fails for being early.
 */
export type LessonModules = typeof import('./lesson-modules.ts');

let loaded: LessonModules | undefined;
let loading: Promise<LessonModules> | undefined;

/** The modules if they are loaded, else undefined. */
export const lessonModules = (): LessonModules | undefined => loaded;

/** Load the modules (once; every caller gets the same promise). */
export function loadLessonModules(): Promise<LessonModules> {
  loading ??= import('./lesson-modules.ts').then(
    (m) => (loaded = m),
    (e: unknown) => {
      loading = undefined; // a later try may succeed
      throw e;
    },
  );
  return loading;
}
