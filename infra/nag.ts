/** cdk-nag's spelling of a value in the id of a finding, for values that hold tokens. */
import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * The value resolved in `scope`'s stack and flattened as cdk-nag flattens references in finding ids:
 * `{Ref: X}` → `<X>`, `{Fn::GetAtt: [X, Y]}` → `<X.Y>`, joins concatenated. A plain string stays as is.
 */
export function nagSpelling(scope: IConstruct, value: string): string {
  return flatten(Stack.of(scope).resolve(value));
}

function flatten(node: unknown): string {
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node !== 'object' || node === null) return JSON.stringify(node);
  const intrinsic = node as Record<string, unknown>;
  if ('Fn::Join' in intrinsic) {
    const [delimiter, items] = intrinsic['Fn::Join'] as [string, unknown[]];
    return items.map(flatten).join(delimiter);
  }
  if ('Fn::Sub' in intrinsic) return flatten(intrinsic['Fn::Sub']);
  if ('Fn::GetAtt' in intrinsic) {
    const [resource, attribute] = intrinsic['Fn::GetAtt'] as [unknown, unknown];
    return `<${flatten(resource)}.${flatten(attribute)}>`;
  }
  if ('Fn::ImportValue' in intrinsic) return flatten(intrinsic['Fn::ImportValue']);
  if ('Ref' in intrinsic) return `<${flatten(intrinsic.Ref)}>`;
  return JSON.stringify(node);
}
