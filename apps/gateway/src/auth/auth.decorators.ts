import { SetMetadata } from '@nestjs/common';

export const ACCESS = 'loyalty:access';

/** Who may call a route besides the root key. */
export type Access = 'public' | 'root' | 'admin' | 'client';

/** No key needed (health, docs). */
export const Public = () => SetMetadata(ACCESS, 'public' satisfies Access);
/** Only the root key (issuing tenant keys). */
export const RootOnly = () => SetMetadata(ACCESS, 'root' satisfies Access);
/** Also open to `client` keys: the member routes a mini-program back end needs. */
export const ClientAllowed = () => SetMetadata(ACCESS, 'client' satisfies Access);
