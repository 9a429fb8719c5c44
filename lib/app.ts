import type { App, StackProps } from 'aws-cdk-lib';
import { loadConfig, type DevMlopsConfig } from './config';
import { DataLakeStack } from './stacks/data-lake-stack';
import { MonitoringStack } from './stacks/monitoring-stack';
import { PipelineStack } from './stacks/pipeline-stack';

export interface DevMlopsStacks {
  readonly config: DevMlopsConfig;
  readonly dataLake: DataLakeStack;
  readonly pipeline: PipelineStack;
  readonly monitoring: MonitoringStack;
}

/** The stack names for a project: `<project>-data-lake`, `<project>-pipeline`, `<project>-monitoring`. */
export function stackNames(project: string): { dataLake: string; pipeline: string; monitoring: string } {
  return {
    dataLake: `${project}-data-lake`,
    pipeline: `${project}-pipeline`,
    monitoring: `${project}-monitoring`,
  };
}

/**
 * Adds every devmlops stack to `app`, configured from its context (cdk.json `devmlops`, or the file named by
 * `devmlops:configFile`). bin/app.ts and the infrastructure tests build the very same stacks through this.
 */
export function buildApp(app: App, stackProps: StackProps = {}): DevMlopsStacks {
  const config = loadConfig(app.node);
  const names = stackNames(config.project);
  const dataLake = new DataLakeStack(app, names.dataLake, {
    ...stackProps,
    stackName: names.dataLake,
    config,
  });
  const pipeline = new PipelineStack(app, names.pipeline, {
    ...stackProps,
    stackName: names.pipeline,
    config,
    dataLake: dataLake.dataLake,
  });
  const monitoring = new MonitoringStack(app, names.monitoring, {
    ...stackProps,
    stackName: names.monitoring,
    config,
    dataLake: dataLake.dataLake,
    pipeline,
  });
  return { config, dataLake, pipeline, monitoring };
}
