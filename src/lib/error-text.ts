// An error as metadata records it (a tool that failed on hostile or broken content, a download
// that did not happen): its name and message, bounded, as the reason a step left behind.

/** `Name: message` of an Error; a string as it is; anything else as JSON. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return typeof err === 'string' ? err : JSON.stringify(err);
}

/** errorText cut to the 500 characters metadata keeps of a reason. */
export const recordedError = (err: unknown): string => errorText(err).slice(0, 500);
