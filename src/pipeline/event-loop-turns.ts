/**
 * Resumes callers one per event-loop iteration, in the order they asked.
 *
 * A batch of inference answers several requests at once, and several decodes often finish in the
 * same poll; resumed together, their post-processing, serialization and socket writes (or crop
 * sampling) run back to back as one long synchronous stretch, and a health check or a new request's
 * bytes that arrived meanwhile wait for all of them. Taking turns lets the loop poll for I/O between
 * any two of them, so the longest wait is one request's work.
 */
const waiting: Array<() => void> = [];
let pumping = false;

function resumeNext(): void {
  waiting.shift()?.();
  // Queued from inside the check phase, the next turn runs in the next iteration, after its poll.
  if (waiting.length > 0) setImmediate(resumeNext);
  else pumping = false;
}

export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!pumping) {
      pumping = true;
      setImmediate(resumeNext);
    }
  });
}
