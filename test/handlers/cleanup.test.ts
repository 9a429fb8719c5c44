import {
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DeleteModelPackageCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelPackagesCommand,
  ListModelsCommand,
  ListTagsCommand,
  SageMakerClient,
  SageMakerServiceException,
} from '@aws-sdk/client-sagemaker';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { handler, isBusy, isComplete, isNotFound } from '../../lambdas/handlers/cleanup';

const sm = mockClient(SageMakerClient);
const arn = (kind: string, name: string) => `arn:aws:sagemaker:us-east-1:111122223333:${kind}/${name}`;
const pipelineTags = (project: string) => [
  { Key: 'devmlops:project', Value: project },
  { Key: 'devmlops:managed-by', Value: 'pipeline' },
];

function notFound(what: string): SageMakerServiceException {
  return new SageMakerServiceException({
    name: 'ValidationException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    message: `Could not find ${what}`,
  });
}

function event(type: 'Create' | 'Update' | 'Delete', props: Record<string, unknown> = { Project: 'proj' }) {
  const base = {
    ServiceToken: 'arn:aws:lambda:us-east-1:111122223333:function:provider',
    ResponseURL: 'https://example.invalid/',
    StackId: 'arn:aws:cloudformation:us-east-1:111122223333:stack/proj-pipeline/1',
    RequestId: 'r-1',
    LogicalResourceId: 'PipelineCleanup',
    ResourceType: 'Custom::PipelineCleanup',
    ResourceProperties: { ServiceToken: 'x', ...props },
  };
  if (type === 'Create') return { ...base, RequestType: 'Create' } as CloudFormationCustomResourceEvent;
  if (type === 'Update')
    return {
      ...base,
      RequestType: 'Update',
      PhysicalResourceId: 'proj-pipeline-cleanup',
      OldResourceProperties: {},
    } as CloudFormationCustomResourceEvent;
  return {
    ...base,
    RequestType: 'Delete',
    PhysicalResourceId: 'proj-pipeline-cleanup',
  } as CloudFormationCustomResourceEvent;
}

/** Names of the commands sent, in order, with their main input. */
function calls(): string[] {
  return sm.calls().map((c) => {
    const cmd = c.args[0] as unknown as { constructor: { name: string }; input: Record<string, unknown> };
    const input = cmd.input;
    const name =
      input.EndpointName ??
      input.EndpointConfigName ??
      input.ModelName ??
      input.ModelPackageName ??
      input.ResourceArn ??
      input.NameContains;
    return `${cmd.constructor.name.replace(/Command$/, '')} ${String(name)}`;
  });
}

beforeEach(() => sm.reset());

function validation(message: string): SageMakerServiceException {
  return new SageMakerServiceException({
    name: 'ValidationException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    message,
  });
}

const ep = (name: string, status: string) =>
  ({ EndpointName: name, EndpointArn: arn('endpoint', name), EndpointStatus: status }) as never;
const pkg = (n: number) => ({ ModelPackageArn: arn('model-package', `proj-models/${n}`) }) as never;

/** Mocks an account with no pipeline resources left, then lets each test add what it needs. */
function emptyAccount(): void {
  sm.on(ListEndpointsCommand).resolves({});
  sm.on(ListEndpointConfigsCommand).resolves({});
  sm.on(ListModelsCommand).resolves({});
  sm.on(ListModelPackagesCommand).resolves({});
  sm.on(ListTagsCommand).resolves({ Tags: pipelineTags('proj') });
  sm.on(DeleteEndpointCommand).resolves({});
  sm.on(DeleteEndpointConfigCommand).resolves({});
  sm.on(DeleteModelCommand).resolves({});
  sm.on(DeleteModelPackageCommand).resolves({});
}

test('Create and Update do nothing but return the physical id, and are complete at once', async () => {
  await expect(handler(event('Create'))).resolves.toEqual({ PhysicalResourceId: 'proj-pipeline-cleanup' });
  await expect(handler(event('Update'))).resolves.toEqual({ PhysicalResourceId: 'proj-pipeline-cleanup' });
  await expect(isComplete(event('Create'))).resolves.toEqual({ IsComplete: true });
  await expect(isComplete(event('Update'))).resolves.toEqual({ IsComplete: true });
  expect(sm.calls()).toHaveLength(0);
});

test('Delete removes the tagged endpoint; configs, models and packages wait until it is gone', async () => {
  emptyAccount();
  sm.on(ListEndpointsCommand, { NameContains: 'proj' }).resolves({
    Endpoints: [ep('proj-endpoint', 'InService'), ep('proj-hand-made', 'InService')],
  });
  sm.on(ListEndpointConfigsCommand).resolves({
    EndpointConfigs: [
      { EndpointConfigName: 'proj-1', EndpointConfigArn: arn('endpoint-config', 'proj-1') } as never,
    ],
  });
  sm.on(ListTagsCommand, { ResourceArn: arn('endpoint', 'proj-hand-made') }).resolves({
    Tags: [{ Key: 'devmlops:project', Value: 'proj' }],
  });
  await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: 'proj-pipeline-cleanup' });
  // The endpoint is Deleting now: nothing else is touched, not complete.
  expect(calls().filter((c) => c.startsWith('Delete'))).toEqual(['DeleteEndpoint proj-endpoint']);
  expect(sm.commandCalls(ListEndpointConfigsCommand)).toHaveLength(0);
  sm.on(ListEndpointsCommand, { NameContains: 'proj' }).resolves({
    Endpoints: [ep('proj-endpoint', 'Deleting'), ep('proj-hand-made', 'InService')],
  });
  await expect(isComplete(event('Delete'))).resolves.toEqual({ IsComplete: false });
  expect(sm.commandCalls(DeleteEndpointCommand)).toHaveLength(1);
  // Gone: the rest is deleted; the next round finds nothing and completes.
  sm.on(ListEndpointsCommand, { NameContains: 'proj' }).resolves({
    Endpoints: [ep('proj-hand-made', 'InService')],
  });
  await expect(isComplete(event('Delete'))).resolves.toEqual({ IsComplete: false });
  expect(calls().filter((c) => c.startsWith('Delete'))).toEqual([
    'DeleteEndpoint proj-endpoint',
    'DeleteEndpointConfig proj-1',
  ]);
  sm.on(ListEndpointConfigsCommand).resolves({});
  await expect(isComplete(event('Delete'))).resolves.toEqual({ IsComplete: true });
  expect(sm.commandCalls(DeleteEndpointCommand, { EndpointName: 'proj-hand-made' })).toHaveLength(0);
});

test('a busy endpoint (Creating, then Updating on delete) is retried by isComplete until deletable', async () => {
  emptyAccount();
  sm.on(ListEndpointsCommand).resolves({ Endpoints: [ep('proj-endpoint', 'Creating')] });
  await handler(event('Delete'));
  expect(sm.commandCalls(DeleteEndpointCommand)).toHaveLength(0);
  // Listed InService, but an update started meanwhile: SageMaker refuses, the round waits.
  sm.on(ListEndpointsCommand).resolves({ Endpoints: [ep('proj-endpoint', 'InService')] });
  sm.on(DeleteEndpointCommand).rejectsOnce(
    validation('Cannot delete endpoint with status Updating. Please try again later.'),
  );
  await expect(isComplete(event('Delete'))).resolves.toEqual({ IsComplete: false });
  await expect(isComplete(event('Delete'))).resolves.toEqual({ IsComplete: false });
  expect(sm.commandCalls(DeleteEndpointCommand)).toHaveLength(2);
  expect(sm.commandCalls(DeleteModelPackageCommand)).toHaveLength(0);
  sm.on(ListEndpointsCommand).resolves({});
  await expect(isComplete(event('Delete'))).resolves.toEqual({ IsComplete: true });
});

test('every package of the group is deleted, following the pages', async () => {
  emptyAccount();
  sm.on(ListModelPackagesCommand)
    .resolvesOnce({ ModelPackageSummaryList: [pkg(1), pkg(2)], NextToken: 'page-2' })
    .resolvesOnce({ ModelPackageSummaryList: [pkg(3)] })
    .resolves({});
  sm.on(ListModelsCommand)
    .resolvesOnce({
      Models: [{ ModelName: 'proj-1', ModelArn: arn('model', 'proj-1') } as never],
      NextToken: 't',
    })
    .resolvesOnce({ Models: [{ ModelName: 'proj-2', ModelArn: arn('model', 'proj-2') } as never] })
    .resolves({});
  await handler(event('Delete'));
  expect(calls().filter((c) => c.startsWith('Delete'))).toEqual([
    'DeleteModel proj-1',
    'DeleteModel proj-2',
    ...[1, 2, 3].map((n) => `DeleteModelPackage ${arn('model-package', `proj-models/${n}`)}`),
  ]);
  const lists = sm.commandCalls(ListModelPackagesCommand).map((c) => c.args[0].input);
  expect(lists[0]).toMatchObject({ ModelPackageGroupName: 'proj-models' });
  expect(lists[1]).toMatchObject({ ModelPackageGroupName: 'proj-models', NextToken: 'page-2' });
  await expect(isComplete(event('Delete'))).resolves.toEqual({ IsComplete: true });
});

test('tolerates resources that disappear meanwhile, and a group that does not exist', async () => {
  emptyAccount();
  sm.on(ListEndpointsCommand)
    .resolvesOnce({ Endpoints: [ep('proj-endpoint', 'InService')] })
    .resolves({});
  sm.on(DeleteEndpointCommand).rejects(notFound('endpoint "proj-endpoint".'));
  sm.on(ListEndpointConfigsCommand).resolves({
    EndpointConfigs: [
      { EndpointConfigName: 'proj-gone', EndpointConfigArn: arn('endpoint-config', 'proj-gone') } as never,
    ],
  });
  sm.on(ListTagsCommand, { ResourceArn: arn('endpoint-config', 'proj-gone') }).rejects(
    notFound('endpoint config'),
  );
  sm.on(ListModelPackagesCommand).rejects(notFound('model package group proj-models'));
  await handler(event('Delete'));
  // The listed endpoint is waited for once; then it is gone, the config too, the group never existed.
  await expect(isComplete(event('Delete'))).resolves.toEqual({ IsComplete: true });
  expect(sm.commandCalls(DeleteEndpointConfigCommand)).toHaveLength(0);
});

test('other errors fail the delete, so CloudFormation reports them', async () => {
  emptyAccount();
  sm.on(ListEndpointsCommand).resolves({ Endpoints: [ep('proj-endpoint', 'InService')] });
  sm.on(DeleteEndpointCommand).rejects(
    new SageMakerServiceException({
      name: 'AccessDeniedException',
      $fault: 'client',
      $metadata: {},
      message: 'not allowed',
    }),
  );
  await expect(handler(event('Delete'))).rejects.toThrow(/not allowed/);
  await expect(isComplete(event('Delete'))).rejects.toThrow(/not allowed/);
});

test('the project comes from the resource property, else from PROJECT', async () => {
  emptyAccount();
  process.env.PROJECT = 'envproj';
  try {
    await handler(event('Delete', {}));
    expect(sm.commandCalls(ListEndpointsCommand)[0].args[0].input.NameContains).toBe('envproj');
    expect(sm.commandCalls(ListModelPackagesCommand)[0].args[0].input.ModelPackageGroupName).toBe(
      'envproj-models',
    );
    delete process.env.PROJECT;
    await expect(handler(event('Delete', {}))).rejects.toThrow(/No project/);
  } finally {
    delete process.env.PROJECT;
  }
});

test('isBusy', () => {
  expect(isBusy(validation('Cannot delete endpoint with status Creating.'))).toBe(true);
  expect(isBusy(validation('bad input'))).toBe(false);
  expect(isBusy(new Error('status Creating'))).toBe(false);
});

test('isNotFound', () => {
  expect(isNotFound(notFound('model'))).toBe(true);
  expect(isNotFound({ name: 'ResourceNotFound', message: '' })).toBe(true);
  expect(isNotFound({ name: 'ValidationException', message: 'bad input' })).toBe(false);
  expect(isNotFound(new Error('Could not find x'))).toBe(false);
});
