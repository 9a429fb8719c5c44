import type { Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildMonitoring } from './monitoring-helpers';

function violations(stack: Stack): string[] {
  return new AwsSolutionsChecks()
    .validateScope(stack)
    .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? '?'}`));
}

describe('cdk-nag AwsSolutions on the monitoring stack', () => {
  it.each([
    ['the default config', () => buildMonitoring()],
    [
      'a serverless endpoint, feature thresholds, a cron schedule and email',
      () =>
        buildMonitoring((c) => {
          c.endpoint = { type: 'serverless' };
          c.monitoring = { schedule: 'cron(5 * * * ? *)', featureThresholds: { plan: 0.4 } };
          c.notificationEmail = 'ops@example.com';
        }),
    ],
  ])('leaves no unacknowledged finding with %s', (_name, make) => {
    const b = make();
    expect(violations(b.monitoring)).toEqual([]);
    // The topic key policy gained a statement: the pipeline stack must stay clean too.
    expect(violations(b.pipeline)).toEqual([]);
  });
});
