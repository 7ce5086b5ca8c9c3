/** The CRD generator on small fixtures: one assertion per schema keyword it promises to emit. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Project, type SourceFile } from 'ts-morph';
import { parse } from 'yaml';
import { buildCrd, type CrdNames } from '../../hack/crdgen/crd.js';
import { parseDocComment } from '../../hack/crdgen/doc.js';
import { CrdGenerationError } from '../../hack/crdgen/errors.js';
import { QUANTITY_PATTERN, type JSONSchemaProps } from '../../hack/crdgen/json-schema.js';
import { GENERATED_HEADER, renderYaml } from '../../hack/crdgen/render.js';
import { buildTypeSchema } from '../../hack/crdgen/schema.js';
import { describeStaleness } from '../../hack/crdgen/staleness.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

// One project for every fixture: loading client-node's declarations is the slow part.
const project = new Project({
  tsConfigFilePath: join(REPO_ROOT, 'tsconfig.json'),
  skipAddingFilesFromTsConfig: true,
});
let fixtureCount = 0;

/** An in-memory source file next to the tests, so `@kubernetes/client-node` resolves as it does for src/. */
function fixture(text: string): SourceFile {
  return project.createSourceFile(
    join(REPO_ROOT, 'test', 'unit', `__crdgen_fixture_${++fixtureCount}.ts`),
    text,
  );
}

/** The schema of the type named `name` (default: the last one declared) in a fixture. */
function schemaOf(text: string, name?: string): JSONSchemaProps {
  const file = fixture(text);
  const decls = [...file.getInterfaces(), ...file.getTypeAliases()];
  const decl = name
    ? decls.find((d) => d.getName() === name)
    : decls.sort((a, b) => a.getPos() - b.getPos()).at(-1);
  if (!decl) throw new Error(`fixture has no type ${name ?? ''}`);
  return buildTypeSchema(decl);
}

function generationError(text: string, name?: string): CrdGenerationError {
  try {
    schemaOf(text, name);
  } catch (err) {
    if (err instanceof CrdGenerationError) return err;
    throw err;
  }
  throw new Error('expected a CrdGenerationError, the schema was generated');
}

function prop(schema: JSONSchemaProps | undefined, ...path: string[]): JSONSchemaProps {
  let at = schema;
  for (const p of path)
    at = p === '[]' ? at?.items : p === '{}' ? at?.additionalProperties : at?.properties?.[p];
  if (!at) throw new Error(`no schema at ${path.join('.')}`);
  return at;
}

describe('crdgen: descriptions', function () {
  it('takes the doc comment without tags, whitespace-normalised', function () {
    const s = schemaOf(`
      /**
       * The lab.
       *   Second   line,
       * third {@link Other} line.
       * @validation {"rule": "true", "message": "m"}
       */
      export interface Lab {
        /**
         * How many
         * pods.
         * @minimum 0
         * @int32
         */
        replicas?: number;
      }`);
    expect(s.description).to.equal('The lab. Second line, third Other line.');
    expect(prop(s, 'replicas').description).to.equal('How many pods.');
  });

  it("uses the type's doc when the property has none, and the property's when both do", function () {
    const s = schemaOf(
      `
      /** A port. */
      export interface Port { name: string }
      export interface Lab {
        port?: Port;
        /** The main port. */
        main?: Port;
        /** @default "a" */
        mode?: Mode;
      }
      /** A mode. */
      export type Mode = 'a' | 'b';`,
      'Lab',
    );
    expect(prop(s, 'port').description).to.equal('A port.');
    expect(prop(s, 'main').description).to.equal('The main port.');
    expect(prop(s, 'mode').description).to.equal('A mode.');
  });

  it('omits description when there is none', function () {
    const s = schemaOf('export interface Lab { name?: string }');
    expect(s).to.not.have.property('description');
    expect(prop(s, 'name')).to.deep.equal({ type: 'string' });
  });

  it('parses tags with multi-line JSON values', function () {
    const doc = parseDocComment(
      ['/**', ' * Text', ' * @validation {"rule": "a",', ' *   "message": "b"}', ' * @int32', ' */'].join(
        '\n',
      ),
      { tags: true, unescape: false },
    );
    expect(doc.description).to.equal('Text');
    expect(doc.tags.map((t) => t.name)).to.deep.equal(['validation', 'int32']);
    expect(JSON.parse(doc.tags[0]!.value)).to.deep.equal({ rule: 'a', message: 'b' });
    expect(doc.tags[1]!.value).to.equal('');
  });

  it("undoes client-node's string escaping and keeps '@' lines as prose", function () {
    const doc = parseDocComment('/**\n    * The pod\\\'s \\"name\\".\n    * @see elsewhere\n    */', {
      tags: false,
      unescape: true,
    });
    expect(doc.description).to.equal('The pod\'s "name". @see elsewhere');
    expect(doc.tags).to.deep.equal([]);
  });
});

describe('crdgen: types', function () {
  it('marks non-optional properties required, in declaration order', function () {
    const s = schemaOf('export interface Lab { b: string; a?: string; c: boolean }');
    expect(s.type).to.equal('object');
    expect(s.required).to.deep.equal(['b', 'c']);
    expect(Object.keys(s.properties ?? {})).to.deep.equal(['b', 'a', 'c']);
  });

  it('leaves required out when every property is optional', function () {
    expect(schemaOf('export interface Lab { a?: string }')).to.not.have.property('required');
  });

  it('turns string-literal unions into enums, in declaration order', function () {
    const s = schemaOf(`
      export type Kind = 'Zeta' | 'Alpha' | 'Mid';
      export interface Lab { kind?: Kind; inline: 'x' | 'y' | undefined; one?: 'only' }`);
    expect(prop(s, 'kind')).to.deep.equal({ type: 'string', enum: ['Zeta', 'Alpha', 'Mid'] });
    expect(prop(s, 'inline')).to.deep.equal({ type: 'string', enum: ['x', 'y'] });
    expect(prop(s, 'one')).to.deep.equal({ type: 'string', enum: ['only'] });
  });

  it('maps number to number unless @int32 or @int64 says integer', function () {
    const s = schemaOf(`export interface Lab {
      ratio?: number;
      /** @int32 */ small?: number;
      /** @int64 */ big?: number;
    }`);
    expect(prop(s, 'ratio')).to.deep.equal({ type: 'number' });
    expect(prop(s, 'small')).to.deep.equal({ type: 'integer', format: 'int32' });
    expect(prop(s, 'big')).to.deep.equal({ type: 'integer', format: 'int64' });
  });

  it('applies bounds, lengths, patterns, formats and item counts', function () {
    const s = schemaOf(`export interface Lab {
      /**
       * @minimum 1
       * @maximum 65535
       * @int32
       */
      port: number;
      /**
       * @minLength 1
       * @maxLength 15
       * @pattern ^[a-z]+$
       */
      name: string;
      /** @format date-time */
      at?: string;
      /**
       * @minItems 1
       * @maxItems 3
       */
      tags?: string[];
    }`);
    expect(prop(s, 'port')).to.deep.equal({ type: 'integer', format: 'int32', minimum: 1, maximum: 65535 });
    expect(prop(s, 'name')).to.deep.equal({
      type: 'string',
      minLength: 1,
      maxLength: 15,
      pattern: '^[a-z]+$',
    });
    expect(prop(s, 'at')).to.deep.equal({ type: 'string', format: 'date-time' });
    expect(prop(s, 'tags')).to.deep.equal({
      type: 'array',
      items: { type: 'string' },
      minItems: 1,
      maxItems: 3,
    });
  });

  it('turns number | string and client-node IntOrString into int-or-string', function () {
    const s = schemaOf(`
      import type { IntOrString } from '@kubernetes/client-node';
      export interface Lab { surge?: IntOrString; port?: number | string }`);
    const expected = { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true };
    expect(prop(s, 'surge')).to.deep.equal(expected);
    expect(prop(s, 'port')).to.deep.equal(expected);
    expect(prop(s, 'port')).to.not.have.property('type');
  });

  it("gives our Quantity alias controller-gen's Quantity schema, with the alias's doc", function () {
    const s = schemaOf(`
      /** A quantity. */
      export type Quantity = string;
      export interface Lab {
        size: Quantity;
        /** Extra room. */
        extra?: Quantity;
      }`);
    expect(prop(s, 'size')).to.deep.equal({
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      pattern: QUANTITY_PATTERN,
      'x-kubernetes-int-or-string': true,
      description: 'A quantity.',
    });
    expect(prop(s, 'extra').description).to.equal('Extra room.');
  });

  it('turns Record<string, T> and index signatures into additionalProperties', function () {
    const s = schemaOf(`export interface Lab {
      labels?: Record<string, string>;
      counts?: { [key: string]: number };
    }`);
    expect(prop(s, 'labels')).to.deep.equal({ type: 'object', additionalProperties: { type: 'string' } });
    expect(prop(s, 'counts')).to.deep.equal({ type: 'object', additionalProperties: { type: 'number' } });
  });

  it('turns Date into a date-time string and unknown into preserved unknown fields', function () {
    const s = schemaOf('export interface Lab { at?: Date; raw?: unknown }');
    expect(prop(s, 'at')).to.deep.equal({ type: 'string', format: 'date-time' });
    expect(prop(s, 'raw')).to.deep.equal({ 'x-kubernetes-preserve-unknown-fields': true });
  });

  it('refuses a recursive type with a clear error', function () {
    const err = generationError(`export interface Tree { name: string; children?: Tree[] }`);
    expect(err.message).to.include('recursive type Tree -> Tree');
    expect(err.schemaPath).to.equal('children[]');
  });

  it('refuses a recursive type through another type', function () {
    const err = generationError(
      `
      export interface A { b?: B }
      export interface B { a?: A }`,
      'A',
    );
    expect(err.message).to.include('recursive type A -> B -> A');
  });

  it('refuses unions it cannot express and TypeScript enums', function () {
    expect(generationError('export interface Lab { x?: string | boolean }').message).to.include(
      'unsupported union',
    );
    expect(
      generationError('export enum E { A = "a" }\nexport interface Lab { e?: E }', 'Lab').message,
    ).to.include('use a union of string literals');
  });
});

describe('crdgen: tags', function () {
  it('parses @default as JSON', function () {
    const s = schemaOf(`export interface Lab {
      /** @default false */ paused?: boolean;
      /** @default "TCP" */ protocol?: 'TCP' | 'UDP';
      /** @default ["a"] */ modes?: string[];
      /** @default 3 */ count?: number;
    }`);
    expect(prop(s, 'paused').default).to.equal(false);
    expect(prop(s, 'protocol').default).to.equal('TCP');
    expect(prop(s, 'modes').default).to.deep.equal(['a']);
    expect(prop(s, 'count').default).to.equal(3);
  });

  it('refuses a default that is not JSON or breaks its own schema', function () {
    expect(generationError('export interface Lab { /** @default TCP */ p?: string }').message).to.include(
      'is not JSON',
    );
    expect(
      generationError(`export interface Lab { /** @default "SCTP" */ p?: 'TCP' | 'UDP' }`).message,
    ).to.include('must be one of ["TCP","UDP"]');
    expect(
      generationError(`export interface Lab {
        /**
         * @minimum 1
         * @default 0
         */
        n?: number;
      }`).message,
    ).to.include('is below 1');
  });

  it('turns @validation into x-kubernetes-validations, on types and on properties', function () {
    const s = schemaOf(`
      /**
       * @validation {"rule": "has(self.a) || has(self.b)", "message": "a or b"}
       * @validation {"rule": "self.a != 'x'", "message": "not x", "fieldPath": ".a", "reason": "FieldValueForbidden"}
       */
      export interface Lab {
        /** @validation {"rule": "self.startsWith('/')", "messageExpression": "'bad: ' + self"} */
        a?: string;
        b?: string;
      }`);
    expect(s['x-kubernetes-validations']).to.deep.equal([
      { rule: 'has(self.a) || has(self.b)', message: 'a or b' },
      { rule: "self.a != 'x'", message: 'not x', fieldPath: '.a', reason: 'FieldValueForbidden' },
    ]);
    expect(prop(s, 'a')['x-kubernetes-validations']).to.deep.equal([
      { rule: "self.startsWith('/')", messageExpression: "'bad: ' + self" },
    ]);
  });

  it('refuses a @validation with unknown keys, no rule, no message or a bad reason', function () {
    const bad = (json: string): string =>
      generationError(`export interface Lab { /** @validation ${json} */ a?: string }`).message;
    expect(bad('{"rule": "true", "mesage": "m"}')).to.include('unknown key "mesage"');
    expect(bad('{"message": "m"}')).to.include('"rule" must be a non-empty CEL expression');
    expect(bad('{"rule": "true"}')).to.include('give a "message"');
    expect(bad('{"rule": "true", "message": "m", "reason": "Nope"}')).to.include('"reason" must be one of');
    expect(bad('rule: true')).to.include('is not a JSON object');
  });

  it('emits map lists whose keys are required or defaulted', function () {
    const s = schemaOf(
      `
      export interface Port { name: string; port: number }
      export interface Env { /** @default "x" */ name?: string }
      export interface Lab {
        /**
         * @listType map
         * @listMapKey name
         * @listMapKey port
         */
        ports?: Port[];
        /**
         * @listType map
         * @listMapKey name
         */
        env?: Env[];
        /** @listType set */
        tags?: string[];
        /** @listType atomic */
        args?: string[];
      }`,
      'Lab',
    );
    expect(prop(s, 'ports')['x-kubernetes-list-type']).to.equal('map');
    expect(prop(s, 'ports')['x-kubernetes-list-map-keys']).to.deep.equal(['name', 'port']);
    expect(prop(s, 'env')['x-kubernetes-list-map-keys']).to.deep.equal(['name']);
    expect(prop(s, 'tags')['x-kubernetes-list-type']).to.equal('set');
    expect(prop(s, 'args')['x-kubernetes-list-type']).to.equal('atomic');
  });

  it('refuses map lists the API server would refuse', function () {
    const list = (item: string, tags: string): string =>
      generationError(
        `
        export interface Item ${item}
        export interface Lab {
          /**
           ${tags}
           */
          items?: Item[];
        }`,
        'Lab',
      ).message;
    expect(list('{ name?: string }', '* @listType map\n* @listMapKey name')).to.include(
      'map list key "name" must be required or have a default',
    );
    expect(list('{ name: string }', '* @listType map\n* @listMapKey id')).to.include(
      '"id" is not a property',
    );
    expect(list('{ name: string }', '* @listType map')).to.include('needs at least one @listMapKey');
    expect(list('{ name: string }', '* @listMapKey name')).to.include('needs @listType map');
    expect(list('{ name: string }', '* @listType set')).to.include('a set holds scalars only');
    expect(list('{ name: string }', '* @listType bag')).to.include('expected atomic, set or map');
  });

  it('refuses unknown tags, repeated tags and tags on the wrong kind of field', function () {
    expect(generationError('export interface Lab { /** @maximun 3 */ n?: number }').message).to.include(
      'unknown tag @maximun',
    );
    expect(generationError('export interface Lab { /** @printcolumn {} */ n?: number }').message).to.include(
      'only allowed on the root type',
    );
    expect(
      generationError('export interface Lab {\n/**\n * @maximum 3\n * @maximum 4\n */\nn?: number }').message,
    ).to.include('@maximum is given twice');
    expect(generationError('export interface Lab { /** @minimum 1 */ s?: string }').message).to.include(
      'only applies to numbers, not to a field of type string',
    );
    expect(generationError('export interface Lab { /** @pattern ^a$ */ n?: number }').message).to.include(
      'only applies to strings',
    );
    expect(generationError('export interface Lab { /** @maxItems 2 */ s?: string }').message).to.include(
      'only applies to arrays',
    );
    expect(generationError('export interface Lab { /** @pattern ([ */ s?: string }').message).to.include(
      'does not compile',
    );
  });

  it('says where the problem is: schema path and file:line', function () {
    const err = generationError(
      `export interface Inner { /** @minimum x */ n?: number }
      export interface Lab { inner?: Inner }`,
      'Lab',
    );
    expect(err.schemaPath).to.equal('inner.n');
    expect(err.message).to.match(
      /^inner\.n: @minimum x: expected a number \(test\/unit\/__crdgen_fixture_\d+\.ts:1\)$/,
    );
  });
});

describe('crdgen: @kubernetes/client-node types', function () {
  const s = schemaOf(`
    import type {
      V1Capabilities, V1EnvVar, V1HTTPGetAction, V1LocalObjectReference, V1NetworkPolicyIngressRule,
      V1ObjectMeta, V1Probe, V1ResourceRequirements,
    } from '@kubernetes/client-node';
    export interface Lab {
      env?: V1EnvVar[];
      probe?: V1Probe;
      http?: V1HTTPGetAction;
      ingress?: V1NetworkPolicyIngressRule;
      resources?: V1ResourceRequirements;
      secret?: V1LocalObjectReference;
      caps?: V1Capabilities;
      meta?: V1ObjectMeta;
    }`);

  it('follows a model down to its fields, with required from non-optional properties', function () {
    const env = prop(s, 'env', '[]');
    expect(env.type).to.equal('object');
    expect(Object.keys(env.properties ?? {})).to.deep.equal(['name', 'value', 'valueFrom']);
    expect(env.required).to.deep.equal(['name']);
    expect(prop(env, 'valueFrom', 'configMapKeyRef', 'key')).to.include({ type: 'string' });
    expect(prop(env, 'valueFrom', 'configMapKeyRef').required).to.deep.equal(['key']);
  });

  it("carries the model's descriptions, unescaped, and the class's when the property has none", function () {
    const env = prop(s, 'env', '[]');
    expect(env.description).to.equal('EnvVar represents an environment variable present in a Container.');
    expect(prop(env, 'name').description).to.include("except '='.");
    expect(prop(env, 'valueFrom').description).to.equal(
      'EnvVarSource represents a source for the value of an EnvVar.',
    );
  });

  it('uses the attributeTypeMap format to tell integers from numbers', function () {
    expect(prop(s, 'probe', 'periodSeconds')).to.include({ type: 'integer', format: 'int32' });
    expect(prop(s, 'probe', 'terminationGracePeriodSeconds')).to.include({
      type: 'integer',
      format: 'int64',
    });
  });

  it('uses wire names: `_from` is sent as `from`', function () {
    expect(prop(s, 'ingress').properties).to.have.keys('from', 'ports');
    expect(prop(s, 'ingress', 'from')['x-kubernetes-list-type']).to.equal('atomic');
  });

  it('turns IntOrString fields into int-or-string', function () {
    const port = prop(s, 'http', 'port');
    expect(port['x-kubernetes-int-or-string']).to.equal(true);
    expect(port.anyOf).to.deep.equal([{ type: 'integer' }, { type: 'string' }]);
    expect(prop(s, 'http').required).to.deep.equal(['port']);
  });

  it("gives known Quantity fields controller-gen's Quantity schema", function () {
    for (const field of ['limits', 'requests']) {
      const map = prop(s, 'resources', field);
      expect(map.type).to.equal('object');
      expect(map.additionalProperties).to.deep.equal({
        anyOf: [{ type: 'integer' }, { type: 'string' }],
        pattern: QUANTITY_PATTERN,
        'x-kubernetes-int-or-string': true,
      });
    }
  });

  it("applies Kubernetes' own list and struct markers", function () {
    const claims = prop(s, 'resources', 'claims');
    expect(claims['x-kubernetes-list-type']).to.equal('map');
    expect(claims['x-kubernetes-list-map-keys']).to.deep.equal(['name']);
    expect(prop(claims, '[]').required).to.deep.equal(['name']);
    expect(prop(s, 'caps', 'drop')['x-kubernetes-list-type']).to.equal('atomic');
    expect(prop(s, 'secret')['x-kubernetes-map-type']).to.equal('atomic');
  });

  it('reduces ObjectMeta to `type: object`, as controller-gen does', function () {
    expect(prop(s, 'meta')).to.deep.equal({ type: 'object' });
  });

  it('never leaves a node without a type unless it is int-or-string or preserves unknown fields', function () {
    const untyped: string[] = [];
    const visit = (node: JSONSchemaProps, path: string): void => {
      if (
        !node.type &&
        !node['x-kubernetes-int-or-string'] &&
        !node['x-kubernetes-preserve-unknown-fields']
      ) {
        untyped.push(path);
      }
      for (const [k, v] of Object.entries(node.properties ?? {})) visit(v, `${path}.${k}`);
      if (node.items) visit(node.items, `${path}[]`);
      if (node.additionalProperties) visit(node.additionalProperties, `${path}{}`);
    };
    visit(s, '');
    expect(untyped).to.deep.equal([]);
  });
});

describe('crdgen: the CRD', function () {
  const names: CrdNames = {
    group: 'example.io',
    version: 'v1',
    kind: 'Widget',
    plural: 'widgets',
    singular: 'widget',
    shortNames: ['wd'],
    categories: ['example'],
  };
  const source = `
    import type { V1ObjectMeta } from '@kubernetes/client-node';
    /**
     * A widget.
     * @printcolumn {"name": "Size", "type": "integer", "jsonPath": ".spec.size", "priority": 1}
     * @printcolumn {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
     */
    export interface Widget {
      apiVersion: 'example.io/v1';
      kind: 'Widget';
      metadata: V1ObjectMeta;
      /** What it should be. */
      spec: { /** @int32 */ size?: number };
      status?: { ready?: boolean };
    }`;

  it('builds names, the version, printer columns and the status subresource', function () {
    const crd = buildCrd(fixture(source), names);
    expect(crd.metadata.name).to.equal('widgets.example.io');
    expect(crd.spec.group).to.equal('example.io');
    expect(crd.spec.scope).to.equal('Namespaced');
    expect(crd.spec.names).to.deep.equal({
      kind: 'Widget',
      listKind: 'WidgetList',
      plural: 'widgets',
      singular: 'widget',
      shortNames: ['wd'],
      categories: ['example'],
    });
    const [version] = crd.spec.versions;
    expect(crd.spec.versions).to.have.length(1);
    expect(version?.name).to.equal('v1');
    expect(version?.served).to.equal(true);
    expect(version?.storage).to.equal(true);
    expect(version?.subresources).to.deep.equal({ status: {} });
    expect(version?.additionalPrinterColumns).to.deep.equal([
      { name: 'Size', type: 'integer', jsonPath: '.spec.size', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ]);
  });

  it('gives the root TypeMeta strings, metadata as an object, and requires spec', function () {
    const root = buildCrd(fixture(source), names).spec.versions[0]!.schema.openAPIV3Schema;
    expect(root.description).to.equal('A widget.');
    expect(prop(root, 'apiVersion').type).to.equal('string');
    expect(prop(root, 'apiVersion')).to.not.have.property('enum');
    expect(prop(root, 'kind').description).to.match(/^Kind is a string value representing the REST resource/);
    expect(prop(root, 'metadata')).to.deep.equal({ type: 'object' });
    expect(prop(root, 'spec', 'size')).to.deep.equal({ type: 'integer', format: 'int32' });
    expect(root.required).to.deep.equal(['spec']);
  });

  it('refuses a bad printer column', function () {
    const bad = source.replace('"type": "integer"', '"type": "int"');
    expect(() => buildCrd(fixture(bad), names)).to.throw(CrdGenerationError, '"type" must be one of');
  });
});

describe('crdgen: rendering and staleness', function () {
  const value = { b: { z: 1, a: ['on', 'True', { y: 2, x: 1 }] }, a: 'long '.repeat(40).trim() };

  it('writes the header, sorts keys at every level and keeps array order', function () {
    const yaml = renderYaml(value);
    expect(yaml.startsWith(GENERATED_HEADER)).to.equal(true);
    expect(GENERATED_HEADER).to.include('Code generated by hack/generate-crd.ts. DO NOT EDIT.');
    const body = yaml.slice(GENERATED_HEADER.length);
    expect(body.indexOf('a: long')).to.be.lessThan(body.indexOf('b:'));
    expect(body.indexOf('a:\n')).to.be.lessThan(body.indexOf('z: 1'));
    expect(JSON.stringify(parse(yaml))).to.equal(
      JSON.stringify({ a: value.a, b: { a: ['on', 'True', { x: 1, y: 2 }], z: 1 } }),
    );
  });

  it('quotes YAML 1.1 booleans and never folds lines', function () {
    const yaml = renderYaml(value);
    expect(yaml).to.include('- "on"');
    expect(yaml).to.include('- "True"');
    expect(yaml).to.include(`a: ${value.a}\n`);
    expect(parse(yaml, { version: '1.1' })).to.deep.equal(parse(yaml));
  });

  it('is deterministic', function () {
    expect(renderYaml(value)).to.equal(renderYaml(structuredClone(value)));
  });

  it('reports nothing for identical files and a missing file as such', function () {
    const yaml = renderYaml(value);
    expect(describeStaleness(yaml, yaml)).to.deep.equal([]);
    expect(describeStaleness(undefined, yaml)).to.deep.equal(['the file does not exist']);
  });

  it('names the schema paths that changed, were added or removed', function () {
    const crd = (max: number, extra?: object) => ({
      spec: {
        versions: [
          {
            schema: {
              openAPIV3Schema: {
                properties: { spec: { properties: { replicas: { maximum: max }, ...extra } } },
              },
            },
          },
        ],
      },
    });
    const summary = describeStaleness(
      renderYaml(crd(100, { old: { type: 'string' } })),
      renderYaml(crd(200, { paused: { type: 'boolean' } })),
    );
    expect(summary).to.deep.equal([
      '- <schema>.spec.old',
      '+ <schema>.spec.paused: {"type":"boolean"}',
      '~ <schema>.spec.replicas.maximum: 100 -> 200',
    ]);
  });

  it('tells a formatting-only difference apart', function () {
    const yaml = renderYaml(value);
    const summary = describeStaleness(yaml.replace('DO NOT EDIT.', 'DO NOT EDIT!'), yaml);
    expect(summary).to.deep.equal(['same content, different formatting or comments from line 1']);
  });

  it('caps the summary', function () {
    const many = (n: number) =>
      Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${String(i).padStart(2, '0')}`, n]));
    const summary = describeStaleness(renderYaml(many(1)), renderYaml(many(2)));
    expect(summary).to.have.length(21);
    expect(summary.at(-1)).to.equal('... and 10 more');
  });
});
