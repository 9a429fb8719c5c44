/**
 * The deterministic names of the training pipeline (issue 3 contract). Other stacks (monitoring), the CLI and the
 * local runtime refer to these resources by name, never by reference, so that no stack depends on another's
 * outputs for them.
 */
export interface TrainingNames {
  /** `<project>-training`: fixed so that the state machine's own ARN can be written without a reference cycle. */
  readonly stateMachine: string;
  /** `<project>-endpoint` */
  readonly endpoint: string;
  /** `<project>-endpoint-5xx`: Invocation5XXErrors of the AllTraffic variant; rolls a canary back. */
  readonly alarm5xx: string;
  /** `<project>-endpoint-latency`: ModelLatency p99 of the AllTraffic variant; rolls a canary back. */
  readonly alarmLatency: string;
  /** `<project>-models` */
  readonly modelPackageGroup: string;
  /** Training jobs, models and endpoint configs are named `<project>-<yyyymmddhhmmss>-<6 hex>` by Prepare. */
  readonly resourcePrefix: string;
  /** The state machine's log group (the `/aws/vendedlogs/` prefix keeps CloudWatch's resource policy small). */
  readonly logGroup: string;
}

export function trainingNames(project: string): TrainingNames {
  return {
    stateMachine: `${project}-training`,
    endpoint: `${project}-endpoint`,
    alarm5xx: `${project}-endpoint-5xx`,
    alarmLatency: `${project}-endpoint-latency`,
    modelPackageGroup: `${project}-models`,
    resourcePrefix: `${project}-`,
    logGroup: `/aws/vendedlogs/states/${project}-training`,
  };
}

/** Tags on every SageMaker resource the pipeline creates: the cleanup custom resource finds them by these. */
export const PIPELINE_TAG_KEYS = { project: 'devmlops:project', managedBy: 'devmlops:managed-by' } as const;
export const PIPELINE_MANAGED_BY = 'pipeline';

/** The tags as SageMaker's `Tags` request field. */
export function pipelineTags(project: string): { Key: string; Value: string }[] {
  return [
    { Key: PIPELINE_TAG_KEYS.project, Value: project },
    { Key: PIPELINE_TAG_KEYS.managedBy, Value: PIPELINE_MANAGED_BY },
  ];
}

/** The variant every endpoint config of the pipeline defines (blue/green needs the same name on both sides). */
export const VARIANT_NAME = 'AllTraffic';

/** Artifacts-bucket prefixes (DESIGN.md section 5). */
export const ARTIFACT_PREFIXES = {
  training: 'training/',
  models: 'models/',
  capture: 'capture/',
  currentPointer: 'baselines/current.json',
} as const;
