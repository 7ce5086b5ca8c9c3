/** The StudyLab API group, version and names, and its types. */
export * from './studylab-types.js';
export { DEFAULTS } from './defaults.js';

export const GROUP = 'studylab.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'StudyLab';
export const PLURAL = 'studylabs';
export const SINGULAR = 'studylab';
export const SHORT_NAMES = ['slab'] as const;
