import { Stack, Validations } from 'aws-cdk-lib';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import type { IConstruct } from 'constructs';

/** A wildcard resource of a policy, and why it cannot be narrower. */
export type WildcardGrant = readonly [resource: string, reason: string];

/**
 * Acknowledges cdk-nag's AwsSolutions-IAM5 finding of each wildcard resource, on the policy that grants it.
 * cdk-nag names the finding by the resource's template expression, which for a bucket of another stack is an
 * Fn::ImportValue that exists only once CDK has resolved cross-stack references: construct validations run after
 * that and before the policy-validation plugins, so the IDs are computed in one.
 */
export function acknowledgeWildcards(policy: IConstruct, grants: readonly WildcardGrant[]): void {
  const stack = Stack.of(policy);
  policy.node.addValidation({
    validate: () => {
      for (const [resource, reason] of grants)
        Validations.of(policy).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(resource))}]`,
          reason,
        });
      return [];
    },
  });
}

/** The reason the Lambda runtime is pinned (AwsSolutions-L1), the same for every DevFunction. */
export const PINNED_RUNTIME_REASON =
  'nodejs22.x is pinned on purpose: the bundle is built for node22 and tested on Node 22 and earlier; moving to nodejs24.x is a deliberate, tested upgrade of DevFunction, not an automatic one.';
