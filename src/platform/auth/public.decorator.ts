import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'tessera:public';

/** Marks a route as reachable without credentials. Every other route must declare a permission. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
