/**
 * An AWS API error as the service returns it. `code` is the error code the SDKs turn into the error's name
 * (ValidationException, ResourceNotFound, ...), so a local caller sees what it would see against AWS.
 */
export class AwsApiError extends Error {
  readonly code: string;
  readonly statusCode: number;

  constructor(code: string, message: string, statusCode = 400) {
    super(message);
    this.name = code;
    this.code = code;
    this.statusCode = statusCode;
  }
}
