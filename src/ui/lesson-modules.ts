/**
 * What opening a lesson or a machine needs and the home screen does not:
 * the notebook engine (and through it the machine model, every command,
 * markdown-it, yaml, re2js) and the lesson view. Its own chunk in the
 * bundle, loaded by lazy.ts after home's first frame (issue 15).
 */
export { Notebook } from '../notebook/engine.ts';
export { loadLessonFile } from '../notebook/library.ts';
export { NotebookView } from './NotebookView.tsx';
