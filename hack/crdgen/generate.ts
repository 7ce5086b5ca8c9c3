/** One run of the generator: load src/api with ts-morph and produce the StudyLab CRD and its YAML. */
import { join } from 'node:path';
import { Project } from 'ts-morph';
import { GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from '../../src/api/v1alpha1/index.js';
import { buildCrd, type CrdNames, type CustomResourceDefinition } from './crd.js';
import { renderYaml } from './render.js';

export const STUDYLAB_NAMES: CrdNames = {
  group: GROUP,
  version: VERSION,
  kind: KIND,
  plural: PLURAL,
  singular: SINGULAR,
  shortNames: SHORT_NAMES,
  // Its own category (`kubectl get studylab`) and not `all`: `kubectl delete all` should not take labs and their data with it.
  categories: ['studylab'],
};

/** Where the API types live and where the CRD goes, relative to the repository root. */
export const TYPES_FILE = 'src/api/v1alpha1/studylab-types.ts';
export const CRD_FILE = `crds/${GROUP}_${PLURAL}.yaml`;

export interface GeneratedCrd {
  crd: CustomResourceDefinition;
  yaml: string;
}

/** Generates the CRD from the repository at `repoRoot` (its tsconfig resolves @kubernetes/client-node). */
export function generateCrd(repoRoot: string): GeneratedCrd {
  const project = new Project({
    tsConfigFilePath: join(repoRoot, 'tsconfig.json'),
    skipAddingFilesFromTsConfig: true,
  });
  const source = project.addSourceFileAtPath(join(repoRoot, TYPES_FILE));
  const crd = buildCrd(source, STUDYLAB_NAMES);
  return { crd, yaml: renderYaml(crd) };
}
