import { CustomResource, Duration, RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { RAW_READ_ONLY_TAG } from './data-lake';
import { DevFunction } from './lambda-function';
import { acknowledgeWildcards, PINNED_RUNTIME_REASON } from './nag-acks';
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
  /**
   * The model package group (named `<project>-models`) whose packages the cleanup deletes, so that CloudFormation
   * can then delete the group: the custom resource depends on it, so it is deleted, and runs, first.
   * @default - no dependency; the packages of `<project>-models` are still deleted
   */
  readonly modelPackageGroup?: sagemaker.CfnModelPackageGroup;
  /** How often the provider framework calls isComplete while endpoints finish a transition. @default Duration.seconds(30) */
  readonly queryInterval?: Duration;
  /** How long the cleanup may wait for endpoints before the stack delete fails. @default Duration.hours(1) */
  readonly totalTimeout?: Duration;
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
 * the project prefix) and every package of the model package group: CloudFormation does not know them, an
 * endpoint bills until it is deleted, and a non-empty group cannot be deleted. An endpoint in a transition
 * (Creating, Updating) cannot be deleted yet, so the provider framework's isComplete handler retries every
 * `queryInterval` until nothing is left. Create and Update do nothing.
 */
export class PipelineCleanup extends Construct {
  /** The onEvent handler: issues the deletes that are possible. */
  readonly function: DevFunction;
  /** The isComplete handler: retries, and reports complete when nothing of the pipeline remains. */
  readonly isCompleteFunction: DevFunction;
  readonly provider: cr.Provider;
  /** The provider framework function's role: writes to its log group and invokes the handler, nothing else. */
  readonly providerRole: iam.Role;
  /** The role of the provider framework's isComplete and onTimeout functions: logs, and invokes isComplete. */
  readonly providerCompleteRole: iam.Role;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: PipelineCleanupProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.minutes(5);
    if (timeout.toSeconds() < 30 || timeout.toSeconds() > 900)
      throw new Error(
        `PipelineCleanup: timeout must be between 30 and 900 seconds, got ${timeout.toSeconds()}`,
      );
    const queryInterval = props.queryInterval ?? Duration.seconds(30);
    const totalTimeout = props.totalTimeout ?? Duration.hours(1);
    if (queryInterval.toSeconds() < 1 || totalTimeout.toSeconds() < queryInterval.toSeconds())
      throw new Error(
        `PipelineCleanup: queryInterval must be at least 1 second and at most totalTimeout, got ${queryInterval.toSeconds()} s and ${totalTimeout.toSeconds()} s`,
      );
    // The provider framework's waiter is a state machine whose executions last at most 2 hours.
    if (totalTimeout.toSeconds() > 7200)
      throw new Error(
        `PipelineCleanup: totalTimeout must be at most 2 hours, got ${totalTimeout.toSeconds()} s`,
      );
    const names = trainingNames(props.project);
    const stack = Stack.of(this);

    const handler = (id: string, exported: string, what: string) =>
      new DevFunction(this, id, {
        entry: props.entry ?? 'lambdas/handlers/cleanup.ts',
        handler: exported,
        description: `${what} the SageMaker endpoints, endpoint configs, models and model packages of the ${props.project} pipeline on stack delete`,
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
    this.function = handler('Handler', 'handler', 'Deletes');
    this.isCompleteFunction = handler('IsComplete', 'isComplete', 'Waits for and deletes');
    const arn = (resource: string, name: string) =>
      stack.formatArn({ service: 'sagemaker', resource, resourceName: name });
    const prefixed = {
      endpoint: arn('endpoint', `${names.resourcePrefix}*`),
      endpointConfig: arn('endpoint-config', `${names.resourcePrefix}*`),
      model: arn('model', `${names.resourcePrefix}*`),
      modelPackage: arn('model-package', `${names.modelPackageGroup}/*`),
    };
    for (const fn of [this.function, this.isCompleteFunction]) {
      const role = fn.role;
      Tags.of(role).add(RAW_READ_ONLY_TAG.key, RAW_READ_ONLY_TAG.value);
      // Finding the pipeline's resources: the List calls have no resource-level permissions. ListTags is
      // read-only and on `*` because a listing by name may return resources of others, whose tags are read to
      // leave them be.
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'FindPipelineResources',
          actions: [
            'sagemaker:ListEndpoints',
            'sagemaker:ListEndpointConfigs',
            'sagemaker:ListModels',
            'sagemaker:ListModelPackages',
            'sagemaker:ListTags',
          ],
          resources: ['*'],
        }),
      );
      // Deletes only under the project prefix (packages: only the group's), each action on its own type.
      for (const [action, resource] of [
        ['sagemaker:DeleteEndpoint', prefixed.endpoint],
        ['sagemaker:DeleteEndpointConfig', prefixed.endpointConfig],
        ['sagemaker:DeleteModel', prefixed.model],
        ['sagemaker:DeleteModelPackage', prefixed.modelPackage],
      ] as const)
        role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [action], resources: [resource] }));
    }

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
    // A role of their own for the framework's isComplete and onTimeout functions: CDK grants the onEvent role
    // the start of the waiter state machine, whose definition names these functions (one role would be a cycle).
    const completeRole = (this.providerCompleteRole = new iam.Role(this, 'ProviderCompleteRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'The isComplete and onTimeout functions of the pipeline cleanup provider framework',
    }));
    frameworkLogs.grantWrite(completeRole);
    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.function.function,
      isCompleteHandler: this.isCompleteFunction.function,
      queryInterval,
      totalTimeout,
      logGroup: frameworkLogs,
      frameworkOnEventRole: frameworkRole,
      frameworkCompleteAndTimeoutRole: completeRole,
      disableWaiterStateMachineLogging: false,
      waiterStateMachineLogOptions: {
        destination: frameworkLogs,
        level: sfn.LogLevel.ALL,
        includeExecutionData: true,
      },
    });
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.provider.serviceToken,
      resourceType: 'Custom::DevMlopsPipelineCleanup',
      properties: { Project: props.project, ModelPackageGroup: names.modelPackageGroup },
    });
    for (const other of props.deleteBefore ?? []) this.resource.node.addDependency(other);
    // Deleted after the cleanup emptied it: SageMaker refuses to delete a group that holds packages.
    if (props.modelPackageGroup) this.resource.node.addDependency(props.modelPackageGroup);

    for (const fn of [this.function, this.isCompleteFunction]) {
      Validations.of(fn.function).acknowledge({ id: 'AwsSolutions-L1', reason: PINNED_RUNTIME_REASON });
      const policy = fn.role.node.findChild('DefaultPolicy');
      Validations.of(policy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'sagemaker:ListEndpoints, ListEndpointConfigs, ListModels and ListModelPackages have no resource-level permissions, and ListTags (read-only) must read the tags of every listed resource to leave others alone; X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords) has none either. Deletes are limited to the project prefix and the project group.',
      });
      acknowledgeWildcards(policy, [
        ...[prefixed.endpoint, prefixed.endpointConfig, prefixed.model].map((a): [string, string] => [
          a,
          'The pipeline names endpoints, endpoint configs and models per execution (<project>-<timestamp>-<hash>); the cleanup may delete only those with the project prefix, and only the ones tagged as created by the pipeline.',
        ]),
        [
          prefixed.modelPackage,
          'Model package versions are numbered by SageMaker at registration; the cleanup deletes every version of the project group, which is deleted with the stack and must be empty by then.',
        ],
      ]);
    }
    const invokeReason =
      'Added by the CDK provider framework so that it may invoke a version or alias of this one function.';
    for (const r of [frameworkRole, completeRole])
      acknowledgeWildcards(
        r.node.findChild('DefaultPolicy'),
        [this.function, this.isCompleteFunction].map((fn) => [`${fn.function.functionArn}:*`, invokeReason]),
      );
    const waiter = this.provider.node.findChild('waiter-state-machine');
    acknowledgeWildcards(
      waiter.node.findChild('Role').node.findChild('DefaultPolicy'),
      ['framework-isComplete', 'framework-onTimeout'].map((id) => [
        `${(this.provider.node.findChild(id) as lambda.IFunction).functionArn}:*`,
        invokeReason,
      ]),
    );
    Validations.of(waiter.node.findChild('Role').node.findChild('DefaultPolicy')).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions log delivery (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) has no resource-level permissions; added by CDK for the waiter state machine logging.',
    });
    Validations.of(waiter).acknowledge({
      id: 'AwsSolutions-SF2',
      reason:
        'The provider framework waiter state machine (one Task polling isComplete) offers no X-Ray option; its executions are logged (ALL) and its handlers are traced.',
    });
  }
}
