/**
 * The schema walk: turns TypeScript declarations into a structural OpenAPI v3
 * schema, the way controller-gen turns Go types into one. Our own types give
 * descriptions and tags; @kubernetes/client-node model classes are followed
 * down to their fields with their descriptions, wire names and formats.
 */
import {
  Node,
  type ClassDeclaration,
  type InterfaceDeclaration,
  type PropertyDeclaration,
  type PropertySignature,
  type TypeAliasDeclaration,
  type TypeElementTypes,
  type TypeNode,
} from 'ts-morph';
import { isClientNodeDeclaration, modelAttributes, type ModelAttribute } from './client-node.js';
import { readDoc, type DocOptions } from './doc.js';
import { CrdGenerationError } from './errors.js';
import { intOrStringSchema, mapLeaf, quantitySchema, type JSONSchemaProps } from './json-schema.js';
import { ATOMIC_STRUCTS, LIST_MARKERS, QUANTITY_FIELDS } from './kubernetes-markers.js';
import { applySchemaTags, checkMapListKeys, checkTagNames } from './tags.js';

/** A named type the walk can start from or arrive at. */
export type NamedDeclaration = InterfaceDeclaration | TypeAliasDeclaration | ClassDeclaration;

const LOCAL_DOC: DocOptions = { tags: true, unescape: false };
const FOREIGN_DOC: DocOptions = { tags: false, unescape: true };

/** Tags a type (rather than a property) may carry. */
const INTERFACE_TAGS = ['validation'] as const;

/**
 * The name of our own type alias that means resource.Quantity, the one named
 * type with a fixed schema, as `resource.Quantity` is for controller-gen.
 */
export const QUANTITY_ALIAS = 'Quantity';

/** The declarations being expanded, outermost first: a repeat is a recursive type. */
interface Walk {
  expanding: NamedDeclaration[];
}

/** The schema of a named type: an interface, a type alias or a client-node model class. */
export function buildTypeSchema(decl: NamedDeclaration, path = ''): JSONSchemaProps {
  return declarationSchema(decl, path, { expanding: [] });
}

/** The schema of one property of an interface, as it appears under its parent's `properties`. */
export function buildPropertySchema(prop: PropertySignature, path: string): JSONSchemaProps {
  return localPropertySchema(prop, path, { expanding: [] });
}

/** The JSON name of a property of one of our interfaces. */
export function propertyName(prop: PropertySignature | PropertyDeclaration): string {
  const nameNode = prop.getNameNode();
  if (Node.isStringLiteral(nameNode) || Node.isNoSubstitutionTemplateLiteral(nameNode)) {
    return nameNode.getLiteralText();
  }
  if (Node.isIdentifier(nameNode)) return nameNode.getText();
  throw new CrdGenerationError('', `unsupported property name ${nameNode.getText()}`, prop);
}

function declarationSchema(decl: NamedDeclaration, path: string, walk: Walk): JSONSchemaProps {
  if (walk.expanding.includes(decl)) {
    const cycle = [...walk.expanding.slice(walk.expanding.indexOf(decl)), decl]
      .map((d) => d.getName())
      .join(' -> ');
    throw new CrdGenerationError(
      path,
      `recursive type ${cycle}: a structural schema cannot describe recursion; ` +
        'cut the cycle, for example with an `unknown` field (x-kubernetes-preserve-unknown-fields)',
      decl,
    );
  }
  walk.expanding.push(decl);
  try {
    if (Node.isTypeAliasDeclaration(decl)) return aliasSchema(decl, path, walk);
    if (Node.isInterfaceDeclaration(decl)) return interfaceSchema(decl, path, walk);
    return modelSchema(decl, path, walk);
  } finally {
    walk.expanding.pop();
  }
}

function aliasSchema(decl: TypeAliasDeclaration, path: string, walk: Walk): JSONSchemaProps {
  if (decl.getTypeParameters().length > 0) {
    throw new CrdGenerationError(path, `generic type ${decl.getName()} is not supported`, decl);
  }
  const foreign = isClientNodeDeclaration(decl);
  const doc = readDoc(decl, foreign ? FOREIGN_DOC : LOCAL_DOC);
  const base =
    !foreign && decl.getName() === QUANTITY_ALIAS
      ? quantitySchema()
      : typeNodeSchema(decl.getTypeNodeOrThrow(), path, walk);
  const described = doc.description ? { ...base, description: doc.description } : base;
  return applySchemaTags(described, doc.tags, path);
}

function interfaceSchema(decl: InterfaceDeclaration, path: string, walk: Walk): JSONSchemaProps {
  if (decl.getTypeParameters().length > 0) {
    throw new CrdGenerationError(path, `generic interface ${decl.getName()} is not supported`, decl);
  }
  if (decl.getExtends().length > 0) {
    throw new CrdGenerationError(
      path,
      `interface ${decl.getName()} extends another: list its fields instead`,
      decl,
    );
  }
  const doc = readDoc(decl, LOCAL_DOC);
  checkTagNames(doc.tags, INTERFACE_TAGS, path);
  const schema = membersSchema(decl.getMembers(), path, walk);
  const described = doc.description ? { ...schema, description: doc.description } : schema;
  return applySchemaTags(described, doc.tags, path);
}

/** An object from interface or type-literal members: property signatures only. */
function membersSchema(members: TypeElementTypes[], path: string, walk: Walk): JSONSchemaProps {
  const properties: Record<string, JSONSchemaProps> = {};
  const required: string[] = [];
  for (const member of members) {
    if (!Node.isPropertySignature(member)) {
      throw new CrdGenerationError(
        path,
        `only properties can become schema fields, not ${member.getText()}`,
        member,
      );
    }
    const name = propertyName(member);
    properties[name] = localPropertySchema(member, join(path, name), walk);
    if (!member.hasQuestionToken()) required.push(name);
  }
  return objectSchema(properties, required);
}

function localPropertySchema(prop: PropertySignature, path: string, walk: Walk): JSONSchemaProps {
  const typeNode = prop.getTypeNode();
  if (!typeNode) throw new CrdGenerationError(path, 'a property needs a type annotation', prop);
  const schema = typeNodeSchema(typeNode, path, walk);
  const doc = readDoc(prop, LOCAL_DOC);
  const described = doc.description ? { ...schema, description: doc.description } : schema;
  return applySchemaTags(described, doc.tags, path);
}

/** A client-node model class: its instance properties, by wire name, with Kubernetes' own markers. */
function modelSchema(decl: ClassDeclaration, path: string, walk: Walk): JSONSchemaProps {
  const className = decl.getName();
  if (!className || !isClientNodeDeclaration(decl)) {
    throw new CrdGenerationError(path, 'classes are only followed in @kubernetes/client-node models', decl);
  }
  const attributes = modelAttributes(className);
  if (!attributes) {
    throw new CrdGenerationError(
      path,
      `${className} is not an exported client-node model with an attributeTypeMap`,
      decl,
    );
  }
  const properties: Record<string, JSONSchemaProps> = {};
  const required: string[] = [];
  for (const prop of decl.getProperties()) {
    if (prop.isStatic()) continue; // discriminator, mapping, attributeTypeMap
    const tsName = propertyName(prop);
    const attribute = attributes.get(tsName);
    if (!attribute) {
      throw new CrdGenerationError(path, `${className}.${tsName} is missing from its attributeTypeMap`, prop);
    }
    const name = attribute.baseName;
    properties[name] = modelPropertySchema(prop, className, attribute, join(path, name), walk);
    if (!prop.hasQuestionToken()) required.push(name);
  }
  const doc = readDoc(decl, FOREIGN_DOC);
  const schema = objectSchema(properties, required);
  if (doc.description) schema.description = doc.description;
  if (ATOMIC_STRUCTS.has(className)) schema['x-kubernetes-map-type'] = 'atomic';
  return schema;
}

function modelPropertySchema(
  prop: PropertyDeclaration,
  className: string,
  attribute: ModelAttribute,
  path: string,
  walk: Walk,
): JSONSchemaProps {
  const typeNode = prop.getTypeNode();
  if (!typeNode) throw new CrdGenerationError(path, 'a property needs a type annotation', prop);
  const field = `${className}.${attribute.baseName}`;
  let schema = withFormat(typeNodeSchema(typeNode, path, walk), attribute.format, path, prop);
  if (QUANTITY_FIELDS.has(field)) {
    schema = mapLeaf(schema, (leaf) => {
      if (leaf.type !== 'string')
        throw new CrdGenerationError(path, `${field} is listed as a Quantity but is not a string`, prop);
      return leaf.description ? { ...quantitySchema(), description: leaf.description } : quantitySchema();
    });
  }
  const marker = LIST_MARKERS.get(field);
  if (marker) {
    if (schema.type !== 'array')
      throw new CrdGenerationError(path, `${field} has a list marker but is not a list`, prop);
    schema = { ...schema, 'x-kubernetes-list-type': marker.type };
    if (marker.keys) {
      schema['x-kubernetes-list-map-keys'] = [...marker.keys];
      checkMapListKeys(schema, marker.keys, (detail) => {
        throw new CrdGenerationError(path, detail, prop);
      });
    }
  }
  const doc = readDoc(prop, FOREIGN_DOC);
  return doc.description ? { ...schema, description: doc.description } : schema;
}

/** client-node says `number` for every number: the attributeTypeMap's format tells integers apart. */
function withFormat(schema: JSONSchemaProps, format: string, path: string, node: Node): JSONSchemaProps {
  switch (format) {
    case '':
    case 'int-or-string': // the IntOrString type already says it
      return schema;
    case 'int32':
    case 'int64':
      return mapLeaf(schema, (leaf) => {
        if (leaf.type !== 'number')
          throw new CrdGenerationError(path, `format ${format} on a ${leaf.type ?? 'untyped'} field`, node);
        return { ...leaf, type: 'integer', format };
      });
    case 'double':
    case 'float':
      return mapLeaf(schema, (leaf) => ({ ...leaf, format }));
    case 'date-time':
    case 'date-time-micro':
      return mapLeaf(schema, (leaf) => ({ ...leaf, type: 'string', format: 'date-time' }));
    case 'byte':
      return mapLeaf(schema, (leaf) => ({ ...leaf, format: 'byte' }));
    default:
      throw new CrdGenerationError(path, `unknown client-node format "${format}"`, node);
  }
}

function typeNodeSchema(node: TypeNode, path: string, walk: Walk): JSONSchemaProps {
  if (Node.isParenthesizedTypeNode(node)) return typeNodeSchema(node.getTypeNode(), path, walk);
  switch (node.getKindName()) {
    case 'StringKeyword':
      return { type: 'string' };
    case 'NumberKeyword':
      return { type: 'number' };
    case 'BooleanKeyword':
      return { type: 'boolean' };
    case 'AnyKeyword':
    case 'UnknownKeyword':
      return { 'x-kubernetes-preserve-unknown-fields': true };
  }
  if (Node.isLiteralTypeNode(node)) return enumSchema([node], path);
  if (Node.isUnionTypeNode(node)) return unionSchema(node.getTypeNodes(), path, walk, node);
  if (Node.isArrayTypeNode(node)) return arraySchema(node.getElementTypeNode(), path, walk);
  if (Node.isTypeLiteral(node)) return typeLiteralSchema(node, path, walk);
  if (Node.isTypeReference(node)) return referenceSchema(node, path, walk);
  throw new CrdGenerationError(path, `unsupported type ${node.getText()}`, node);
}

function unionSchema(members: TypeNode[], path: string, walk: Walk, node: TypeNode): JSONSchemaProps {
  const kinds = (n: TypeNode): string =>
    Node.isLiteralTypeNode(n) && Node.isNullLiteral(n.getLiteral()) ? 'NullKeyword' : n.getKindName();
  const present = members.filter((m) => kinds(m) !== 'UndefinedKeyword' && kinds(m) !== 'NullKeyword');
  if (present.length === 1) return typeNodeSchema(present[0]!, path, walk);
  const names = new Set(present.map(kinds));
  if (present.length === 2 && names.has('NumberKeyword') && names.has('StringKeyword'))
    return intOrStringSchema();
  if (present.every((m) => Node.isLiteralTypeNode(m))) return enumSchema(present, path);
  throw new CrdGenerationError(
    path,
    `unsupported union ${node.getText()}: use string literals (an enum) or number | string (int-or-string)`,
    node,
  );
}

function enumSchema(members: TypeNode[], path: string): JSONSchemaProps {
  const values = members.map((m) => {
    const literal = Node.isLiteralTypeNode(m) ? m.getLiteral() : undefined;
    if (!literal || !Node.isStringLiteral(literal)) {
      throw new CrdGenerationError(path, `only string literals can form an enum, not ${m.getText()}`, m);
    }
    return literal.getLiteralText();
  });
  return { type: 'string', enum: values };
}

function arraySchema(element: TypeNode, path: string, walk: Walk): JSONSchemaProps {
  return { type: 'array', items: typeNodeSchema(element, `${path}[]`, walk) };
}

function mapSchema(value: TypeNode, path: string, walk: Walk): JSONSchemaProps {
  return { type: 'object', additionalProperties: typeNodeSchema(value, `${path}{}`, walk) };
}

/** `{ [key: string]: T }` is a map; `{ a: string }` an inline object. */
function typeLiteralSchema(
  node: Node & { getMembers(): TypeElementTypes[] },
  path: string,
  walk: Walk,
): JSONSchemaProps {
  const members = node.getMembers();
  const indexes = members.filter((m) => Node.isIndexSignatureDeclaration(m));
  if (indexes.length === 0) return membersSchema(members, path, walk);
  const index = indexes[0]!;
  if (members.length !== 1 || index.getKeyTypeNode().getKindName() !== 'StringKeyword') {
    throw new CrdGenerationError(path, 'a map type must be exactly { [key: string]: T }', node);
  }
  return mapSchema(index.getReturnTypeNodeOrThrow(), path, walk);
}

function referenceSchema(node: TypeNode & Node, path: string, walk: Walk): JSONSchemaProps {
  if (!Node.isTypeReference(node)) throw new CrdGenerationError(path, 'expected a type reference', node);
  const name = node.getTypeName().getText();
  const args = node.getTypeArguments();
  if ((name === 'Array' || name === 'ReadonlyArray') && args.length === 1)
    return arraySchema(args[0]!, path, walk);
  if (name === 'Record' && args.length === 2) {
    if (args[0]!.getKindName() !== 'StringKeyword') {
      throw new CrdGenerationError(path, 'a Record must have string keys', node);
    }
    return mapSchema(args[1]!, path, walk);
  }
  if (name === 'Date') return { type: 'string', format: 'date-time' };
  if (args.length > 0)
    throw new CrdGenerationError(path, `generic type ${node.getText()} is not supported`, node);

  const decl = resolveDeclaration(node, path);
  // Kubernetes itself validates metadata; controller-gen emits just this for embedded ObjectMeta too.
  if (Node.isClassDeclaration(decl) && decl.getName() === 'V1ObjectMeta') return { type: 'object' };
  return declarationSchema(decl, path, walk);
}

function resolveDeclaration(node: TypeNode & Node, path: string): NamedDeclaration {
  if (!Node.isTypeReference(node)) throw new CrdGenerationError(path, 'expected a type reference', node);
  const symbol = node.getTypeName().getSymbol();
  const target = symbol?.isAlias() ? symbol.getAliasedSymbol() : symbol;
  const decl = target?.getDeclarations()[0];
  if (!decl) throw new CrdGenerationError(path, `cannot resolve type ${node.getText()}`, node);
  if (
    Node.isTypeAliasDeclaration(decl) ||
    Node.isInterfaceDeclaration(decl) ||
    Node.isClassDeclaration(decl)
  ) {
    if (decl.getSourceFile().getFilePath().includes('/node_modules/') && !isClientNodeDeclaration(decl)) {
      throw new CrdGenerationError(
        path,
        `type ${node.getText()} comes from a package other than @kubernetes/client-node`,
        node,
      );
    }
    return decl;
  }
  if (Node.isEnumDeclaration(decl)) {
    throw new CrdGenerationError(
      path,
      `enum ${decl.getName()}: use a union of string literals instead`,
      node,
    );
  }
  throw new CrdGenerationError(path, `type ${node.getText()} is a ${decl.getKindName()}, not a type`, node);
}

function objectSchema(properties: Record<string, JSONSchemaProps>, required: string[]): JSONSchemaProps {
  const schema: JSONSchemaProps = { type: 'object', properties };
  if (required.length > 0) schema.required = required;
  return schema;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}
