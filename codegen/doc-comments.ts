import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";

/** The comments written on a service or method in the proto file, as doc text; may be empty. */
export function commentText(desc: DescService | DescMethod): string {
  const comments = getComments(desc);
  return [comments.leading, comments.trailing]
    .filter((text): text is string => text !== undefined && text.trim() !== "")
    .map(tidy)
    .join("\n\n");
}

/** Marked deprecated in the proto file (a service also by its file). */
export function isDeprecated(desc: DescService | DescMethod): boolean {
  if (desc.kind === "rpc") {
    return desc.deprecated;
  }
  return desc.deprecated || desc.file.deprecated;
}

/** Doc text from paragraphs (empty ones skipped), ending with `@deprecated` when asked. */
export function docText(paragraphs: readonly string[], deprecated: boolean): string {
  const parts = paragraphs.filter((p) => p !== "");
  if (deprecated) {
    parts.push("@deprecated");
  }
  return parts.join("\n\n");
}

/** Drops the space that follows `//` in proto comments and the final line break. */
function tidy(text: string): string {
  return text
    .replace(/\n$/, "")
    .split("\n")
    .map((line) => (line.startsWith(" ") ? line.substring(1) : line))
    .join("\n");
}
