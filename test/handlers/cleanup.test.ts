import {
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelsCommand,
  ListTagsCommand,
  SageMakerClient,
  SageMakerServiceException,
} from '@aws-sdk/client-sagemaker';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { handler, isNotFound } from '../../lambdas/handlers/cleanup';

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
      input.ResourceArn ??
      input.NameContains;
    return `${cmd.constructor.name.replace(/Command$/, '')} ${String(name)}`;
  });
}

beforeEach(() => sm.reset());

test('Create and Update do nothing but return the physical id', async () => {
  await expect(handler(event('Create'))).resolves.toEqual({ PhysicalResourceId: 'proj-pipeline-cleanup' });
  await expect(handler(event('Update'))).resolves.toEqual({ PhysicalResourceId: 'proj-pipeline-cleanup' });
  expect(sm.calls()).toHaveLength(0);
});

test('Delete removes tagged endpoints, then endpoint configs, then models; untagged and foreign ones stay', async () => {
  sm.on(ListEndpointsCommand, { NameContains: 'proj' }).resolves({
    Endpoints: [
      { EndpointName: 'proj-endpoint', EndpointArn: arn('endpoint', 'proj-endpoint') } as never,
      { EndpointName: 'proj-hand-made', EndpointArn: arn('endpoint', 'proj-hand-made') } as never,
    ],
  });
  sm.on(ListEndpointConfigsCommand)
    .resolvesOnce({
      EndpointConfigs: [
        { EndpointConfigName: 'proj-1', EndpointConfigArn: arn('endpoint-config', 'proj-1') } as never,
      ],
      NextToken: 'page-2',
    })
    .resolvesOnce({
      EndpointConfigs: [
        { EndpointConfigName: 'proj-2', EndpointConfigArn: arn('endpoint-config', 'proj-2') } as never,
        { EndpointConfigName: 'myproj-2', EndpointConfigArn: arn('endpoint-config', 'myproj-2') } as never,
      ],
    });
  sm.on(ListModelsCommand).resolves({
    Models: [
      { ModelName: 'proj-1', ModelArn: arn('model', 'proj-1') } as never,
      { ModelName: 'proj-2', ModelArn: arn('model', 'proj-2') } as never,
    ],
  });
  sm.on(ListTagsCommand).resolves({ Tags: pipelineTags('proj') });
  sm.on(ListTagsCommand, { ResourceArn: arn('endpoint', 'proj-hand-made') }).resolves({
    Tags: [{ Key: 'devmlops:project', Value: 'proj' }],
  });
  sm.on(ListTagsCommand, { ResourceArn: arn('endpoint-config', 'myproj-2') }).resolves({
    Tags: pipelineTags('myproj'),
  });
  sm.on(DeleteEndpointCommand).resolves({});
  sm.on(DeleteEndpointConfigCommand).resolves({});
  sm.on(DeleteModelCommand).resolves({});

  const out = await handler(event('Delete'));
  expect(out).toEqual({
    PhysicalResourceId: 'proj-pipeline-cleanup',
    Data: { Endpoints: 'proj-endpoint', EndpointConfigs: 'proj-1,proj-2', Models: 'proj-1,proj-2' },
  });
  const deletes = calls().filter((c) => c.startsWith('Delete'));
  expect(deletes).toEqual([
    'DeleteEndpoint proj-endpoint',
    'DeleteEndpointConfig proj-1',
    'DeleteEndpointConfig proj-2',
    'DeleteModel proj-1',
    'DeleteModel proj-2',
  ]);
  // Listing used the project as the name filter, and the second page was followed.
  expect(sm.commandCalls(ListEndpointsCommand)[0].args[0].input.NameContains).toBe('proj');
  expect(sm.commandCalls(ListEndpointConfigsCommand)[1].args[0].input.NextToken).toBe('page-2');
});

test('tolerates resources that disappear meanwhile (not found on ListTags or Delete)', async () => {
  sm.on(ListEndpointsCommand).resolves({
    Endpoints: [{ EndpointName: 'proj-endpoint', EndpointArn: arn('endpoint', 'proj-endpoint') } as never],
  });
  sm.on(ListEndpointConfigsCommand).resolves({
    EndpointConfigs: [
      { EndpointConfigName: 'proj-gone', EndpointConfigArn: arn('endpoint-config', 'proj-gone') } as never,
    ],
  });
  sm.on(ListModelsCommand).resolves({
    Models: [{ ModelName: 'proj-1', ModelArn: arn('model', 'proj-1') } as never],
  });
  sm.on(ListTagsCommand).resolves({ Tags: pipelineTags('proj') });
  sm.on(ListTagsCommand, { ResourceArn: arn('endpoint-config', 'proj-gone') }).rejects(
    notFound('endpoint config'),
  );
  sm.on(DeleteEndpointCommand).rejects(notFound('endpoint "proj-endpoint".'));
  sm.on(DeleteModelCommand).resolves({});
  const out = await handler(event('Delete'));
  expect(out.Data).toEqual({ Endpoints: '', EndpointConfigs: '', Models: 'proj-1' });
});

test('other errors fail the delete, so CloudFormation reports them', async () => {
  sm.on(ListEndpointsCommand).resolves({
    Endpoints: [{ EndpointName: 'proj-endpoint', EndpointArn: arn('endpoint', 'proj-endpoint') } as never],
  });
  sm.on(ListTagsCommand).resolves({ Tags: pipelineTags('proj') });
  sm.on(DeleteEndpointCommand).rejects(
    new SageMakerServiceException({
      name: 'AccessDeniedException',
      $fault: 'client',
      $metadata: {},
      message: 'not allowed',
    }),
  );
  await expect(handler(event('Delete'))).rejects.toThrow(/not allowed/);
});

test('the project comes from the resource property, else from PROJECT', async () => {
  sm.on(ListEndpointsCommand).resolves({});
  sm.on(ListEndpointConfigsCommand).resolves({});
  sm.on(ListModelsCommand).resolves({});
  process.env.PROJECT = 'envproj';
  try {
    await handler(event('Delete', {}));
    expect(sm.commandCalls(ListEndpointsCommand)[0].args[0].input.NameContains).toBe('envproj');
    delete process.env.PROJECT;
    await expect(handler(event('Delete', {}))).rejects.toThrow(/No project/);
  } finally {
    delete process.env.PROJECT;
  }
});

test('isNotFound', () => {
  expect(isNotFound(notFound('model'))).toBe(true);
  expect(isNotFound({ name: 'ResourceNotFound', message: '' })).toBe(true);
  expect(isNotFound({ name: 'ValidationException', message: 'bad input' })).toBe(false);
  expect(isNotFound(new Error('Could not find x'))).toBe(false);
});
