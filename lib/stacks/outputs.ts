// Kept apart from the stack so that the local platform reads them without loading aws-cdk-lib.

/** The CfnOutput keys of the PipelineStack (the CLI reads them). */
export const PIPELINE_OUTPUTS = {
  stateMachineArn: 'TrainingStateMachineArn',
  topicArn: 'NotificationTopicArn',
  /** The inference API's stage URL, ending in `/`: clients post to `<url>v1/predict`. */
  inferenceApiUrl: 'InferenceApiUrl',
  /** The managed policy to attach to application roles that call the inference API. */
  inferenceInvokePolicyArn: 'InferenceInvokePolicyArn',
} as const;
