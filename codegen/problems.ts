import type { AnyDesc, DescFile } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";

/**
 * Mistakes found in the proto files, gathered so that one run reports all of them, each with
 * the place in the source it comes from ("format.proto:12:5: ...").
 */
export class Problems {
  private readonly problems: { readonly where: Location; readonly message: string }[] = [];

  /** Records a problem about `desc`; `optionPath` narrows the place down to one of its options. */
  add(desc: Exclude<AnyDesc, DescFile>, message: string, optionPath: readonly number[] = []): void {
    this.problems.push({ where: location(desc, optionPath), message });
  }

  get count(): number {
    return this.problems.length;
  }

  /** Throws one error listing every problem in source order, if there is any. */
  throwIfAny(): void {
    if (this.problems.length === 0) {
      return;
    }
    const sorted = [...this.problems].sort(
      (a, b) => a.where.file.localeCompare(b.where.file) || a.where.line - b.where.line || a.where.column - b.where.column,
    );
    throw new Error(sorted.map(({ where, message }) => `${format(where)}: ${message}`).join("\n"));
  }
}

interface Location {
  readonly file: string;
  /** 1-based; 0 when unknown. */
  readonly line: number;
  readonly column: number;
}

function format({ file, line, column }: Location): string {
  return line > 0 ? `${file}:${line}:${column}` : file;
}

/**
 * Source location of an element, or of one of its options: the element's source path followed
 * by `optionPath` (for example [options field number, extension number]). Falls back to the
 * nearest enclosing element that has a location, then to the file name.
 */
function location(desc: Exclude<AnyDesc, DescFile>, optionPath: readonly number[]): Location {
  const file = fileOf(desc);
  const path = [...getComments(desc).sourcePath, ...optionPath];
  const locations = file.proto.sourceCodeInfo?.location ?? [];
  for (let length = path.length; length > 0; length--) {
    const found = locations.find((l) => l.path.length === length && l.path.every((p, i) => p === path[i]));
    if (found !== undefined && found.span.length >= 2) {
      return { file: file.proto.name, line: found.span[0] + 1, column: found.span[1] + 1 };
    }
  }
  return { file: file.proto.name, line: 0, column: 0 };
}

function fileOf(desc: Exclude<AnyDesc, DescFile>): DescFile {
  switch (desc.kind) {
    case "rpc":
      return desc.parent.file;
    case "field":
    case "oneof":
      return desc.parent.file;
    case "enum_value":
      return desc.parent.file;
    default:
      return desc.file;
  }
}
