// The worker of the image example: sharp, and the libvips under it, run here. A crash in
// libvips costs this process; a file sharp rejects becomes INVALID_ARGUMENT for the caller.
import { AirlockError, Code, serve } from "airlock";
import type { RawImage } from "./gen/image/v1/image_pb.js";
import { ImageServiceDefinition } from "./gen/image/v1/image_airlock.js";
import { blur, decode, resize, type Pixels } from "./operations.js";

function required(image: RawImage | undefined): RawImage {
  if (!image) throw new AirlockError(Code.InvalidArgument, "no image given");
  return image;
}

// What sharp refuses (a corrupt file, a size that does not add up) is the request's fault here:
// the caller gets INVALID_ARGUMENT with sharp's reason rather than an anonymous UNKNOWN.
async function viaSharp(operation: () => Promise<Pixels>): Promise<Pixels> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    throw new AirlockError(Code.InvalidArgument, `sharp: ${(error as Error).message}`);
  }
}

serve(ImageServiceDefinition, {
  resize: (request) => viaSharp(() => resize(required(request.image), request.width, request.height)),
  blur: (request) => viaSharp(() => blur(required(request.image), request.sigma)),
  decode: (request) => viaSharp(() => decode(request.file)),
});
