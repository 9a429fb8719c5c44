import { Template } from 'aws-cdk-lib/assertions';
import { build, defaultConfigInput, props, render, resourcesOf, type Built, type Json } from './helpers';
import type { DevMlopsConfigInput } from '../../lib/config';

export interface BuiltMonitoring extends Built {
  readonly monitoringTemplate: Template;
}

/** The default app, or one whose config `edit` changed; with the monitoring stack's template. */
export function buildMonitoring(edit?: (c: DevMlopsConfigInput) => void): BuiltMonitoring {
  const config = defaultConfigInput();
  edit?.(config);
  const b = build({ config });
  return { ...b, monitoringTemplate: Template.fromStack(b.monitoring) };
}

/** The alarm named `name`: its properties. Fails unless exactly one. */
export function alarmNamed(template: Template, name: string): Json {
  const found = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'))
    .map(props)
    .filter((p) => p.AlarmName === name);
  expect(found).toHaveLength(1);
  return found[0];
}

/** The dashboard body with its tokens rendered (`Ref`s and imports as readable strings), parsed. */
export function dashboardBody(b: BuiltMonitoring): { widgets: Json[] } {
  const dashboards = Object.values(resourcesOf(b.monitoringTemplate, 'AWS::CloudWatch::Dashboard')).map(
    props,
  );
  expect(dashboards).toHaveLength(1);
  expect(dashboards[0].DashboardName).toBe(b.config.project);
  return JSON.parse(render(dashboards[0].DashboardBody, b.pipelineTemplate)) as { widgets: Json[] };
}
