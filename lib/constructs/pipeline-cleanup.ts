import { CustomResource, Duration, RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { RAW_READ_ONLY_TAG } from './data-lake';
import { DevFunction } from './lambda-function';
import { acknowledgeWildcards, PINNED_RUNTIME_REASON } from './training-acks';
import { trainingNames } from './training-names';

export interface PipelineCleanupProps {
  /** The project whose pipeline-created SageMaker resources are removed on delete. Required. */
  readonly project: string;
  /**
   * Resources that must still exist while the cleanup runs (e.g. the SageMaker role and the alarms the endpoint
   * uses): the custom resource depends on them, so CloudFormation deletes it, and runs the cleanup, first.
   * @default - no extra dependency
   */
  readonly deleteBefore?: Construct[];
  /** @default 'lambdas/handlers/cleanup.ts' */
  readonly entry?: string;
  /** @default Duration.minutes(5) */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A custom resource that, when the stack is deleted, deletes the endpoints, endpoint configs and models the
 * training pipeline created (tagged `devmlops:project=<project>` and `devmlops:managed-by=pipeline`, named with
 * the project prefix): CloudFormation does not know them, and an endpoint bills until it is deleted.
 * Create and Update do nothing.
 */
export class PipelineCleanup extends Construct {
  readonly function: DevFunction;
  readonly provider: cr.Provider;
  /** The provider framework function's role: writes to its log group and invokes the handler, nothing else. */
  readonly providerRole: iam.Role;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: PipelineCleanupProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.minutes(5);
    if (timeout.toSeconds() < 30 || timeout.toSeconds() > 900)
      throw new Error(
        `PipelineCleanup: timeout must be between 30 and 900 seconds, got ${timeout.toSeconds()}`,
      );
    const names = trainingNames(props.project);
    const stack = Stack.of(this);

    this.function = new DevFunction(this, 'Handler', {
      entry: props.entry ?? 'lambdas/handlers/cleanup.ts',
      description: `Deletes the SageMaker endpoints, endpoint configs and models of the ${props.project} pipeline on stack delete`,
      timeout,
      logRetention: props.logRetention,
      environment: {
        PROJECT: props.project,
        POWERTOOLS_SERVICE_NAME: 'cleanup',
        POWERTOOLS_METRICS_NAMESPACE: 'DevMLOps',
      },
      // Invoked synchronously by the provider framework, which reports failures to CloudFormation.
      deadLetterQueue: false,
    });
    Tags.of(this.function.role).add(RAW_READ_ONLY_TAG.key, RAW_READ_ONLY_TAG.value);
    const arn = (resource: string, name: string) =>
      stack.formatArn({ service: 'sagemaker', resource, resourceName: name });
    const prefixed = {
      endpoint: arn('endpoint', `${names.resourcePrefix}*`),
      endpointConfig: arn('endpoint-config', `${names.resourcePrefix}*`),
      model: arn('model', `${names.resourcePrefix}*`),
    };
    const role = this.function.role;
    // Finding the pipeline's resources: the List calls have no resource-level permissions. ListTags is read-only
    // and on `*` because a listing by name may return resources of others, whose tags are read to leave them be.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'FindPipelineResources',
        actions: [
          'sagemaker:ListEndpoints',
          'sagemaker:ListEndpointConfigs',
          'sagemaker:ListModels',
          'sagemaker:ListTags',
        ],
        resources: ['*'],
      }),
    );
    // Deletes only under the project prefix, each action on its own resource type.
    for (const [action, resource] of [
      ['sagemaker:DeleteEndpoint', prefixed.endpoint],
      ['sagemaker:DeleteEndpointConfig', prefixed.endpointConfig],
      ['sagemaker:DeleteModel', prefixed.model],
    ] as const)
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [action], resources: [resource] }));

    // The provider framework's own function relays the handler's answer to CloudFormation. Its role and log
    // group are given here: CDK's defaults are the AWS managed basic execution policy and a LogRetention
    // custom resource (one more Lambda with logs:PutRetentionPolicy on `*`).
    const frameworkLogs = new logs.LogGroup(this, 'ProviderLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const frameworkRole = (this.providerRole = new iam.Role(this, 'ProviderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'The CloudFormation custom resource provider framework of the pipeline cleanup',
    }));
    frameworkLogs.grantWrite(frameworkRole);
    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.function.function,
      logGroup: frameworkLogs,
      frameworkOnEventRole: frameworkRole,
    });
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.provider.serviceToken,
      resourceType: 'Custom::DevMlopsPipelineCleanup',
      properties: { Project: props.project },
    });
    for (const other of props.deleteBefore ?? []) this.resource.node.addDependency(other);

    Validations.of(this.function.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason: PINNED_RUNTIME_REASON,
    });
    const policy = role.node.findChild('DefaultPolicy');
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'sagemaker:ListEndpoints, ListEndpointConfigs and ListModels have no resource-level permissions, and ListTags (read-only) must read the tags of every listed resource to leave others alone; X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords) has none either. Deletes are limited to the project prefix.',
    });
    acknowledgeWildcards(frameworkRole.node.findChild('DefaultPolicy'), [
      [
        `${this.function.function.functionArn}:*`,
        'Added by the CDK provider framework so that it may invoke a version or alias of this one handler function.',
      ],
    ]);
    acknowledgeWildcards(
      policy,
      Object.values(prefixed).map((a) => [
        a,
        'The pipeline names endpoint configs and models per execution (<project>-<timestamp>-<hash>); the cleanup may delete only those with the project prefix, and only the ones tagged as created by the pipeline.',
      ]),
    );
  }
}
