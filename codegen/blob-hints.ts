import { hasOption, ScalarType, type DescField, type DescFile, type DescMessage } from "@bufbuild/protobuf";
import { FieldDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { blob } from "./gen/airlock/v1/options_pb.js";
import type { Problems } from "./problems.js";

const fieldOptionsField = FieldDescriptorProtoSchema.field.options.number;

/**
 * Checks the `(airlock.v1.blob)` options in a file: the hint is only allowed on singular
 * `bytes` fields (oneof members included). The method table does not carry the hints yet;
 * shared-memory blobs will read them from here.
 */
export function checkBlobHints(file: DescFile, problems: Problems): void {
  for (const message of messagesOf(file.messages)) {
    for (const field of message.fields) {
      const isBytes = field.fieldKind === "scalar" && field.scalar === ScalarType.BYTES;
      if (hasOption(field, blob) && !isBytes) {
        const what = `${field.parent.typeName}.${field.name} is a ${kindOf(field)} field`;
        problems.add(field, `(airlock.v1.blob) is only allowed on singular bytes fields; ${what}`, [
          fieldOptionsField,
          blob.number,
        ]);
      }
    }
  }
}

function kindOf(field: DescField): string {
  switch (field.fieldKind) {
    case "scalar":
      return ScalarType[field.scalar].toLowerCase();
    case "list":
      return "repeated";
    default:
      return field.fieldKind;
  }
}

function* messagesOf(messages: readonly DescMessage[]): Iterable<DescMessage> {
  for (const message of messages) {
    yield message;
    yield* messagesOf(message.nestedMessages);
  }
}
