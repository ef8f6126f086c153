/**
 * Server-side apply of the drainer's own objects (lambda/rbac/): one field manager, forced, so the
 * stack's copy wins over a hand-applied one; a GET first tells created, changed and unchanged apart
 * (an apply that changes nothing leaves the resourceVersion as it was).
 */
import type { ManifestApiPort } from '../rbac/apply.js';
import { groupVersionPath, type Manifest, objectPath } from '../rbac/manifests.js';
import { isStatus } from './api-error.js';
import type { KubeHttp } from './http.js';

export const FIELD_MANAGER = 'eks-node-drainer';

interface Meta {
  readonly metadata?: { readonly resourceVersion?: string };
}

export class KubeManifests implements ManifestApiPort {
  constructor(private readonly http: KubeHttp) {}

  async served(apiVersion: string): Promise<boolean> {
    try {
      await this.http.getJson(groupVersionPath(apiVersion));
      return true;
    } catch (error) {
      if (isStatus(error, 404)) return false;
      throw error;
    }
  }

  async apply(manifest: Manifest): Promise<'created' | 'changed' | 'unchanged'> {
    const path = objectPath(manifest);
    const before = await this.resourceVersion(path);
    const after = await this.http.send<Meta>('PATCH', path, {
      query: { fieldManager: FIELD_MANAGER, force: 'true' },
      body: manifest,
      // JSON is YAML: the apply patch type takes either
      contentType: 'application/apply-patch+yaml',
    });
    if (before === undefined) return 'created';
    return after?.metadata?.resourceVersion === before ? 'unchanged' : 'changed';
  }

  async remove(manifest: Manifest): Promise<'deleted' | 'absent'> {
    try {
      await this.http.send('DELETE', objectPath(manifest));
      return 'deleted';
    } catch (error) {
      if (isStatus(error, 404)) return 'absent';
      throw error;
    }
  }

  private async resourceVersion(path: string): Promise<string | undefined> {
    try {
      return (await this.http.getJson<Meta>(path)).metadata?.resourceVersion;
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }
}
