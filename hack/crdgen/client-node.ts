/**
 * Facts about @kubernetes/client-node models that their TypeScript
 * declarations do not carry: the JSON name of each field (`_from` is sent
 * as `from`) and its OpenAPI format (`number` is int32, int64 or double).
 * Both come from the `attributeTypeMap` every model class holds at run time.
 */
import * as clientNode from '@kubernetes/client-node';
import type { Node } from 'ts-morph';

/** One entry of a model's `attributeTypeMap`. */
export interface ModelAttribute {
  /** The TypeScript property name. */
  name: string;
  /** The JSON field name. */
  baseName: string;
  /** The TypeScript type as text, such as `Array<V1EnvVar>`. */
  type: string;
  /** The OpenAPI format: `int32`, `int64`, `double`, `date-time`, `int-or-string`, `byte`, or empty. */
  format: string;
}

const PACKAGE_DIR = '/node_modules/@kubernetes/client-node/';

/** Whether a declaration comes from @kubernetes/client-node (its comments are prose, its classes models). */
export function isClientNodeDeclaration(node: Node): boolean {
  return node.getSourceFile().getFilePath().includes(PACKAGE_DIR);
}

const cache = new Map<string, ReadonlyMap<string, ModelAttribute>>();

/** The attributes of a model class by TypeScript property name, or undefined when no such model is exported. */
export function modelAttributes(className: string): ReadonlyMap<string, ModelAttribute> | undefined {
  const cached = cache.get(className);
  if (cached) return cached;
  const model = (clientNode as Record<string, unknown>)[className] as
    { attributeTypeMap?: readonly ModelAttribute[] } | undefined;
  if (!model?.attributeTypeMap) return undefined;
  const byName = new Map(model.attributeTypeMap.map((a) => [a.name, a]));
  cache.set(className, byName);
  return byName;
}
