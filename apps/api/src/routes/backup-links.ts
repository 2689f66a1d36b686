import { BackupTokens } from "@berth/backup-store";

/** Download links: `<publicUrl>/backups/download?token=…`, valid 10 minutes, serving the decrypted dump. */
export class BackupLinks {
  readonly #tokens: BackupTokens;

  constructor(
    encryptionKey: Buffer,
    private readonly publicUrl: string,
    now: () => number = Date.now,
  ) {
    this.#tokens = new BackupTokens(encryptionKey, "download links", 10 * 60_000, now);
  }

  create(backupId: string): { url: string; expiresAt: Date } {
    const { token, expiresAt } = this.#tokens.create(backupId);
    return { url: `${this.publicUrl.replace(/\/$/, "")}/backups/download?token=${token}`, expiresAt };
  }

  open(token: string) {
    return this.#tokens.open(token);
  }
}
