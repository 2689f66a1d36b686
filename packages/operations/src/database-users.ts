import { generatePassword, type AddonCredentials, type AddonDefinition, type AddonUsers } from "@berth/addon-sdk";
import { isUniqueViolation, type DatabaseUser as DatabaseUserRow, type Operation, type Prisma, type PrismaClient, type Resource, type SecretBox } from "@berth/db";
import type { OperationQueue } from "@berth/jobs";
import { isPlatforms } from "./lifecycle.js";
import { enqueueOperation, lockChangeable } from "./recording.js";
import { refusals } from "./refusals.js";

/** Scalingo's rule for its database users' names. */
export const USER_NAME_PATTERN = /^[a-z0-9-]{6,32}$/;
/** Given passwords: 24 to 64 printable ASCII characters, no space. */
export const USER_PASSWORD_PATTERN = /^[\x21-\x7e]{24,64}$/;

export interface DatabaseUserView {
  readonly name: string;
  readonly readOnly: boolean;
  /** The app's own user: listed, never removed or changed here (rotate the credentials instead). */
  readonly protected: boolean;
  readonly createdAt: Date | null;
}

/** A user just created or given a new password: the password is shown this once. */
export interface DatabaseUserSecret {
  readonly user: DatabaseUserView;
  readonly password: string;
  /** The `sync_users` operation that makes the engine's users match. */
  readonly operation: Operation;
}

/**
 * The database's users beside the app's own (Scalingo's database users): each change is recorded
 * (the row, its password sealed) with a `sync_users` operation under the resource's row lock, in
 * order with its other operations, and queued; the worker then makes the engine's users exactly
 * the recorded ones. Used by the API and the dashboard.
 */
export class DatabaseUserService {
  constructor(
    private readonly db: PrismaClient,
    private readonly queue: OperationQueue,
    private readonly secrets: SecretBox,
  ) {}

  /** The app's own user first, then the others by name. */
  async list(addon: AddonDefinition, id: string): Promise<DatabaseUserView[]> {
    const users = requireUsers(addon);
    const resource = await this.db.resource.findFirst({ where: { id, addon: addon.id }, include: { users: { orderBy: { name: "asc" } } } });
    if (!resource || !acceptsUsers(resource)) throw refusals.resourceNotFound(id);
    const app: DatabaseUserView = { name: this.appUserName(users, resource), readOnly: false, protected: true, createdAt: resource.provisionedAt };
    return [app, ...resource.users.map(view)];
  }

  /** A new user, read-only or read-write, with the password given or a generated one. */
  async create(addon: AddonDefinition, id: string, request: { name: string; readOnly: boolean; password?: string }): Promise<DatabaseUserSecret> {
    const users = requireUsers(addon);
    requireName(users, request.name);
    const password = request.password ?? generatePassword();
    requirePassword(password);
    try {
      return await this.change(addon, id, async (tx, resource) => {
        if (request.name === this.appUserName(users, resource)) throw refusals.userExists(id, request.name);
        const user = await tx.databaseUser.create({ data: { resourceId: id, name: request.name, readOnly: request.readOnly, password: this.secrets.sealJson({ password }) } });
        return { user: view(user), password };
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw refusals.userExists(id, request.name);
      throw error;
    }
  }

  /** Removes a user: its sessions are ended and it can no longer log in. */
  async remove(addon: AddonDefinition, id: string, name: string): Promise<Operation> {
    const users = requireUsers(addon);
    const { operation } = await this.change(addon, id, async (tx, resource) => {
      await this.requireOwn(tx, users, resource, name);
      await tx.databaseUser.delete({ where: { resourceId_name: { resourceId: id, name } } });
      return {};
    });
    return operation;
  }

  /** A new password for a user (given, or generated): the previous one is refused once the operation ran. */
  async resetPassword(addon: AddonDefinition, id: string, name: string, given?: string): Promise<DatabaseUserSecret> {
    const users = requireUsers(addon);
    const password = given ?? generatePassword();
    requirePassword(password);
    return this.change(addon, id, async (tx, resource) => {
      await this.requireOwn(tx, users, resource, name);
      const user = await tx.databaseUser.update({ where: { resourceId_name: { resourceId: id, name } }, data: { password: this.secrets.sealJson({ password }) } });
      return { user: view(user), password };
    });
  }

  /** Records a change of the users and the operation that applies it, then queues it. */
  private async change<T>(addon: AddonDefinition, id: string, apply: (tx: Prisma.TransactionClient, resource: Resource) => Promise<T>): Promise<T & { operation: Operation }> {
    const recorded = await this.db.$transaction(async (tx) => {
      const resource = await lockChangeable(tx, addon, id);
      if (!acceptsUsers(resource)) throw refusals.resourceNotFound(id);
      const outcome = await apply(tx, resource);
      return { ...outcome, operation: await tx.operation.create({ data: { resourceId: id, kind: "sync_users" } }) };
    });
    await enqueueOperation(this.queue, "sync_users", recorded.operation.id, id);
    return recorded;
  }

  private async requireOwn(tx: Prisma.TransactionClient, users: AddonUsers, resource: Resource, name: string): Promise<void> {
    if (name === this.appUserName(users, resource) || users.reservedNames.includes(name)) throw refusals.userProtected(name);
    const found = await tx.databaseUser.findUnique({ where: { resourceId_name: { resourceId: resource.id, name } }, select: { id: true } });
    if (!found) throw refusals.userNotFound(resource.id, name);
  }

  private appUserName(users: AddonUsers, resource: Resource): string {
    if (resource.credentials === null) throw refusals.resourceNotFound(resource.id);
    return users.appUserName(this.secrets.openJson<AddonCredentials>(resource.credentials));
  }
}

function requireUsers(addon: AddonDefinition): AddonUsers {
  if (!addon.users) throw refusals.usersNotSupported(addon.id);
  return addon.users;
}

/** The platform's database (not a pool's, not removed), built far enough to have its credentials. */
function acceptsUsers(resource: Resource): boolean {
  return isPlatforms(resource.status) && resource.credentials !== null;
}

function requireName(users: AddonUsers, name: string): void {
  if (!USER_NAME_PATTERN.test(name)) throw refusals.invalidUser(`A user's name is 6 to 32 lowercase letters, digits and dashes ('${name}' is not).`);
  if (users.reservedNames.includes(name)) throw refusals.invalidUser(`'${name}' is a name the engine keeps for itself; choose another.`);
}

function requirePassword(password: string): void {
  if (!USER_PASSWORD_PATTERN.test(password)) throw refusals.invalidUser("A user's password is 24 to 64 printable characters, without spaces.");
}

function view(user: DatabaseUserRow): DatabaseUserView {
  return { name: user.name, readOnly: user.readOnly, protected: false, createdAt: user.createdAt };
}
