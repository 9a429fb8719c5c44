import { Aws, CfnMapping, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** The built-in algorithm image this project trains and serves with. Never `latest` or `1`: those move. */
export const XGBOOST_REPOSITORY = 'sagemaker-xgboost';
export const XGBOOST_VERSION = '1.7-1';

/**
 * The ECR registry (account) that hosts `sagemaker-xgboost:1.7-1` in each region, copied from the SageMaker
 * Python SDK's `src/sagemaker/image_uri_config/xgboost.json` (aws/sagemaker-python-sdk, commit 02ed3cbf,
 * scope `training`, version `1.7-1`; the `inference` scope lists the same accounts for this version).
 * The host name's domain is the partition's (`AWS::URLSuffix`): amazonaws.com, amazonaws.com.cn in China,
 * and the ISO partitions' own suffixes.
 */
export const XGBOOST_1_7_1_REGISTRIES: Readonly<Record<string, string>> = {
  'af-south-1': '510948584623',
  'ap-east-1': '651117190479',
  'ap-northeast-1': '354813040037',
  'ap-northeast-2': '366743142698',
  'ap-northeast-3': '867004704886',
  'ap-south-1': '720646828776',
  'ap-south-2': '628508329040',
  'ap-southeast-1': '121021644041',
  'ap-southeast-2': '783357654285',
  'ap-southeast-3': '951798379941',
  'ap-southeast-4': '106583098589',
  'ca-central-1': '341280168497',
  'ca-west-1': '190319476487',
  'cn-north-1': '450853457545',
  'cn-northwest-1': '451049120500',
  'eu-central-1': '492215442770',
  'eu-central-2': '680994064768',
  'eu-north-1': '662702820516',
  'eu-south-1': '978288397137',
  'eu-south-2': '104374241257',
  'eu-west-1': '141502667606',
  'eu-west-2': '764974769150',
  'eu-west-3': '659782779980',
  'il-central-1': '898809789911',
  'me-central-1': '272398656194',
  'me-south-1': '801668240914',
  'sa-east-1': '737474898029',
  'us-east-1': '683313688378',
  'us-east-2': '257758044811',
  'us-gov-east-1': '237065988967',
  'us-gov-west-1': '414596584902',
  'us-iso-east-1': '833128469047',
  'us-isob-east-1': '281123927165',
  'us-isof-east-1': '108575199400',
  'us-isof-south-1': '124985052026',
  'us-west-1': '746614075791',
  'us-west-2': '246618743249',
};

/** The mapping's second-level key. */
const ACCOUNT_KEY = 'account';

/**
 * The `sagemaker-xgboost:1.7-1` image URI of the stack's region, resolved at deploy time through a CfnMapping on
 * `AWS::Region`, so one template works in every region that hosts the image. A stack pinned to a region that does
 * not host it fails at synth; an environment-agnostic stack deployed to such a region fails at deploy time with
 * CloudFormation's "Mapping ... key not found".
 */
export class XgboostImage extends Construct {
  /** `<account>.dkr.ecr.<region>.<url suffix>/sagemaker-xgboost:1.7-1` */
  readonly imageUri: string;
  /** The ECR repository ARN the image is pulled from (for `ecr:BatchGetImage` and friends). */
  readonly repositoryArn: string;
  readonly mapping: CfnMapping;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const region = Stack.of(this).region;
    if (!Token.isUnresolved(region) && !(region in XGBOOST_1_7_1_REGISTRIES))
      throw new Error(
        `XgboostImage: ${XGBOOST_REPOSITORY}:${XGBOOST_VERSION} is not hosted in ${region}; regions that host it: ${Object.keys(XGBOOST_1_7_1_REGISTRIES).join(', ')}`,
      );
    const mapping: Record<string, Record<string, string>> = {};
    for (const [r, account] of Object.entries(XGBOOST_1_7_1_REGISTRIES))
      mapping[r] = { [ACCOUNT_KEY]: account };
    // Not lazy: the mapping is in the template even when the stack's region is known, so the template is the
    // same for every region.
    this.mapping = new CfnMapping(this, 'Registry', { mapping });
    const account = this.mapping.findInMap(Aws.REGION, ACCOUNT_KEY);
    this.imageUri = `${account}.dkr.ecr.${Aws.REGION}.${Aws.URL_SUFFIX}/${XGBOOST_REPOSITORY}:${XGBOOST_VERSION}`;
    this.repositoryArn = `arn:${Aws.PARTITION}:ecr:${Aws.REGION}:${account}:repository/${XGBOOST_REPOSITORY}`;
  }
}
