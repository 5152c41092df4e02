import { z } from "zod";

/** What the runner learns about a function image (docs/cli.md, docs/http-api.md). */
export const ImageMetadata = z.object({
  /** The full resolved reference the record is keyed by, e.g. `ghcr.io/org/fn:v1`. */
  reference: z.string(),
  registry: z.string(),
  repository: z.string(),
  /** What the reference points to: the index digest when there is an index. */
  digest: z.string(),
  /** The platform-specific image manifest digest (equals `digest` without an index). */
  platformDigest: z.string(),
  /** `os/arch[/variant]` of the chosen manifest. */
  platform: z.string(),
  /** Config Entrypoint, else Cmd: what the wrapper server must exec. */
  entrypoint: z.array(z.string()),
  configEntrypoint: z.array(z.string()).nullable(),
  configCmd: z.array(z.string()).nullable(),
  /** Media type of the manifest the reference points to. */
  mediaType: z.string(),
});
export type ImageMetadata = z.infer<typeof ImageMetadata>;
