/** The StudyLab kind as the runtime addresses it. */
import { GROUP, KIND, PLURAL, VERSION } from '../api/v1alpha1/index.js';
import type { ResourceType } from '../runtime/index.js';

export const StudyLabs: ResourceType = {
  group: GROUP,
  version: VERSION,
  kind: KIND,
  plural: PLURAL,
  namespaced: true,
};
