// Turning file-system errors into a sentence an operator can act on from `kubectl logs`.
import { SourceMissingError, SnapshotUnstableError } from '../volume/snapshot.js';

export interface ExplainedError {
  message: string;
  /** False for errors we did not foresee: log them with their stack. */
  known: boolean;
}

export function explainSyncError(err: unknown, dirs: { sourceDir: string; targetDir: string }): ExplainedError {
  const known = (message: string): ExplainedError => ({ message, known: true });
  if (err instanceof SourceMissingError) {
    return known(`${err.message}: is the ConfigMap volume mounted there (and is the ConfigMap present)?`);
  }
  if (err instanceof SnapshotUnstableError) return known(err.message);
  const { code, path } = err as NodeJS.ErrnoException;
  const inTarget = typeof path === 'string' && (path === dirs.targetDir || path.startsWith(`${dirs.targetDir}/`));
  if (inTarget && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')) {
    return known(
      `target directory ${dirs.targetDir} is not writable (${code}): it must be a read-write emptyDir writable by this container's user (runAsUser/fsGroup)`,
    );
  }
  if (inTarget && (code === 'ENOENT' || code === 'ENOTDIR')) {
    return known(`target directory ${dirs.targetDir} does not exist or is not a directory`);
  }
  if (inTarget && code === 'ENOSPC') return known(`target directory ${dirs.targetDir} is full (ENOSPC): raise the emptyDir sizeLimit`);
  return { message: err instanceof Error ? err.message : String(err), known: false };
}

/** Log fields for a failure: the stack only when the error was not foreseen. */
export function errorFields(err: unknown, explained: ExplainedError): Record<string, unknown> {
  return explained.known ? { error: (err as Error).message } : { err };
}
