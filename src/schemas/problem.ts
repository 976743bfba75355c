import Type from 'typebox';

/** RFC 9457 problem details, the body of every error response. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'A URI that identifies the kind of problem.' }),
    title: Type.String({ description: 'Short summary of the kind of problem.' }),
    status: Type.Integer({ description: 'The HTTP status code.' }),
    detail: Type.String({ description: 'What went wrong with this request, naming the offending value.' }),
    instance: Type.Optional(Type.String({ description: 'The request path.' })),
  },
  {
    $id: 'Problem',
    additionalProperties: true,
    description: 'application/problem+json (RFC 9457)',
    examples: [
      {
        type: 'urn:huber-keypoints:problem:unknown-model',
        title: 'Not Found',
        status: 404,
        detail: 'model "resnet50-huber" is not in the model repository',
        instance: '/v1/models/resnet50-huber/predict',
      },
    ],
  },
);

const problemContent = { 'application/problem+json': { schema: Type.Ref('Problem') } };

/** Error responses for a route's schema, each documented with the problem body. */
export function problemResponses(statuses: Record<number, string>) {
  const responses: Record<number, unknown> = {};
  for (const [status, description] of Object.entries(statuses)) {
    responses[Number(status)] = { description, content: problemContent };
  }
  return responses;
}
