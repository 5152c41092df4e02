/**
 * Whether function pods get a Service. They do, until the API answers
 * Forbidden on services (Porch v4.1.2's Role grants nothing on them): from
 * then on pods run without one and are dialled by pod IP, as Porch v4.1.2
 * does (docs/porch-differences.md). The switch is logged once.
 */
import { isKubeApiError } from "../kube/errors.ts";
import type { Logger } from "../log.ts";

export class ServiceAccess {
  #forbidden = false;

  constructor(
    private readonly logger: Logger,
    private readonly namespace: string,
  ) {}

  /** Services may not be created: pods are dialled by pod IP. */
  get forbidden(): boolean {
    return this.#forbidden;
  }

  /** A Forbidden answer on services: switch to Services-less pods, once. */
  refusedBy(e: unknown): boolean {
    if (!isKubeApiError(e) || e.reason !== "Forbidden") return false;
    if (!this.#forbidden) {
      this.#forbidden = true;
      this.logger.warn("no permission on services: function pods run without a Service and are dialled by pod IP (as Porch v4.1.2)", {
        namespace: this.namespace,
        error: e instanceof Error ? e.message : String(e),
      });
    }
    return true;
  }
}
