/** The CustomResourceDefinition assembled from the root type: names, the one version, printer columns, status subresource. */
import type { InterfaceDeclaration, SourceFile } from 'ts-morph';
import { readDoc } from './doc.js';
import { CrdGenerationError } from './errors.js';
import type { JSONSchemaProps } from './json-schema.js';
import { buildPropertySchema, propertyName } from './schema.js';
import { applySchemaTags, checkTagNames, parsePrinterColumns, type PrinterColumn } from './tags.js';

/** The names of the resource; src/api/v1alpha1/index.ts holds the real ones. */
export interface CrdNames {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: readonly string[];
  categories: readonly string[];
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: 'Namespaced';
    versions: {
      name: string;
      served: true;
      storage: true;
      additionalPrinterColumns?: PrinterColumn[];
      schema: { openAPIV3Schema: JSONSchemaProps };
      subresources: { status: Record<string, never> };
    }[];
  };
}

// The TypeMeta descriptions every Kubernetes object schema carries (as controller-gen writes them).
const API_VERSION_DESCRIPTION =
  'APIVersion defines the versioned schema of this representation of an object. Servers should convert ' +
  'recognized schemas to the latest internal value, and may reject unrecognized values. More info: ' +
  'https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources';
const KIND_DESCRIPTION =
  'Kind is a string value representing the REST resource this object represents. Servers may infer this ' +
  'from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: ' +
  'https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds';

/** Fields of the root the API server owns: the root type declares them for TypeScript's sake only. */
const TYPE_META_FIELDS = new Set(['apiVersion', 'kind', 'metadata']);

/** Builds the CRD from the interface named `names.kind` in `source`. */
export function buildCrd(source: SourceFile, names: CrdNames): CustomResourceDefinition {
  const root = source.getInterface(names.kind);
  if (!root) {
    throw new CrdGenerationError('', `no exported interface ${names.kind} in ${source.getFilePath()}`);
  }
  const doc = readDoc(root, { tags: true, unescape: false });
  checkTagNames(doc.tags, ['printcolumn', 'validation'], '');
  const printerColumns = parsePrinterColumns(doc.tags, '');
  const schema = applySchemaTags(
    rootSchema(root, doc.description),
    doc.tags.filter((t) => t.name !== 'printcolumn'),
    '',
  );
  const version: CustomResourceDefinition['spec']['versions'][number] = {
    name: names.version,
    served: true,
    storage: true,
    schema: { openAPIV3Schema: schema },
    subresources: { status: {} },
  };
  if (printerColumns.length > 0) version.additionalPrinterColumns = printerColumns;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${names.group}` },
    spec: {
      group: names.group,
      names: {
        kind: names.kind,
        listKind: `${names.kind}List`,
        plural: names.plural,
        singular: names.singular,
        shortNames: [...names.shortNames],
        categories: [...names.categories],
      },
      scope: 'Namespaced',
      versions: [version],
    },
  };
}

function rootSchema(root: InterfaceDeclaration, description: string | undefined): JSONSchemaProps {
  const properties: Record<string, JSONSchemaProps> = {
    apiVersion: { type: 'string', description: API_VERSION_DESCRIPTION },
    kind: { type: 'string', description: KIND_DESCRIPTION },
    metadata: { type: 'object' },
  };
  const required: string[] = [];
  const declared = new Set<string>();
  for (const prop of root.getProperties()) {
    const name = propertyName(prop);
    declared.add(name);
    if (TYPE_META_FIELDS.has(name)) continue;
    properties[name] = buildPropertySchema(prop, name);
    if (!prop.hasQuestionToken()) required.push(name);
  }
  for (const name of TYPE_META_FIELDS) {
    if (!declared.has(name)) throw new CrdGenerationError('', `the root type must declare ${name}`, root);
  }
  const schema: JSONSchemaProps = { type: 'object', properties };
  if (description) schema.description = description;
  if (required.length > 0) schema.required = required;
  return schema;
}
