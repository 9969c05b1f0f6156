// GET /v1/tables/{table}: the writable columns of an allowlisted table. GET /v1/whoami: the token's name and
// the tables it may write (what `powerhouse doctor` and an app's settings page check).
import { canWrite } from '../auth';
import { authenticate, tableFor, type Exchange, type RouteContext } from './context';
import { sendJson } from './respond';

export function handleDescribe(ctx: RouteContext, x: Exchange, encodedName: string): void {
  const { table } = tableFor(ctx, x.req, encodedName);
  sendJson(ctx, x.res, 200, {
    table: table.name,
    columns: table.writable.map((c) => ({
      name: c.name,
      type: c.type,
      // The base type's oid (domains resolved): lets a client pick the binary encoder for a domain column.
      typeOid: c.typeOid,
      nullable: c.nullable,
      hasDefault: c.hasDefault,
    })),
  });
}

export function handleWhoami(ctx: RouteContext, x: Exchange): void {
  const token = authenticate(ctx, x.req);
  const tables = [...ctx.state.catalog.keys()].filter((t) => canWrite(token, t));
  sendJson(ctx, x.res, 200, { token: token.id, tables });
}
