// One Hetzner Cloud host per tier: a dedicated-vCPU server running PostgreSQL 16, PgBouncer and the ingest
// worker behind TLS, set up by cloud-init from render()'s files; a private network; a firewall that opens SSH
// to admins and HTTPS/PgBouncer (both TLS-only) to clients only (PostgreSQL's port never); secrets from
// random_password; the ingest endpoint's certificate from hashicorp/tls, output for clients to pin (connect_info).
import { createHash } from 'node:crypto';
import { Construct } from 'constructs';
import {
  AssetType,
  DataResource,
  Fn,
  LocalBackend,
  TerraformAsset,
  TerraformCount,
  TerraformLocal,
  TerraformOutput,
  TerraformStack,
  TerraformVariable,
  Token,
} from 'cdktf';
import { RandomProvider } from '@cdktf/provider-random/lib/provider';
import {
  DEFAULT_PORTS,
  fillPlaceholders,
  HETZNER_SERVER_TYPES,
  isPresetTierName,
  presetTier,
  renderRepositoryConf,
  tune,
  type PresetTierName,
  type RenderedFile,
  type Settings,
} from '../config-templates';
import { userData, USER_DATA_LIMIT_BYTES } from './cloud-init';
import { Firewall, HcloudProvider, Network, NetworkSubnet, Server, SshKey, Volume } from './hcloud';
import { assertValidWorkerConfig, describeDeployment } from './deployment';
import { clientTableNames, connectInfoExpression } from './connect-info';
import { ADMIN_CIDRS_MARKER, APPLY_UPLOAD, hostApplyScript } from './host-apply';
import { NO_REPOSITORY_WARNING } from './host-backup';
import { hetznerTarget, HOST, INGEST_HTTPS_PORT } from './host-files';
import { IngestTls } from './ingest-tls';
import { escapeTerraform } from './terraform-escape';
import {
  checkCidrs,
  HETZNER_LOCATIONS,
  serverTypesFor,
  StackInputError,
  SUPPORTED_IMAGES,
  WORLD_CIDRS,
  type SupportedImage,
} from './inputs';
import { StackSecrets } from './secrets';
import type { WorkerBundle } from './worker-bundle';

export const PRIVATE_NETWORK = {
  range: '10.42.0.0/16',
  subnet: '10.42.1.0/24',
  serverIp: '10.42.1.10',
} as const;
export const DEFAULT_LOCATION = 'fsn1';
/**
 * Debian 13: its own nodejs package is 20.x, the worker's runtime. Ubuntu 24.04 and Debian 12 ship Node.js
 * 18 (end of life), and any other Node.js would come from a registry this project does not control.
 */
export const DEFAULT_IMAGE: SupportedImage = 'debian-13';

export interface HetznerStackProps {
  readonly tier: PresetTierName;
  /** The worker bundle (buildWorkerBundle) Terraform copies to the server. */
  readonly workerBundle: WorkerBundle;
  /** Default of the `server_type` variable; default the tier's CCX type. */
  readonly serverType?: string;
  /** Default of the `location` variable; default fsn1. */
  readonly location?: string;
  readonly image?: SupportedImage;
  /** Defaults of the `admin_cidrs` / `client_cidrs` variables; without them the variables are required. */
  readonly adminCidrs?: readonly string[];
  readonly clientCidrs?: readonly string[];
  /** Default of the `data_volume_gb` variable (0 = data on the local NVMe). */
  readonly dataVolumeGb?: number;
  /**
   * State file, relative to the directory Terraform runs in (cdktf.out/stacks/<stack>); default the project
   * root's terraform.<stack>.tfstate, so the state survives a clean cdktf.out.
   */
  readonly statePath?: string;
}

/** Validation blocks written once, as Terraform expressions over the variable. */
const cidrListValidation = (v: string, allowWorld: boolean) => [
  {
    condition: `\${length(var.${v}) > 0}`,
    errorMessage: `${v} must list at least one CIDR, e.g. ["203.0.113.7/32"].`,
  },
  {
    condition: `\${alltrue([for c in var.${v} : can(cidrhost(c, 0))])}`,
    errorMessage: `Every entry of ${v} must be a CIDR such as 203.0.113.7/32 or 2001:db8::/48.`,
  },
  ...(allowWorld
    ? []
    : [
        {
          condition: `\${length(setintersection(var.${v}, ${JSON.stringify(WORLD_CIDRS)})) == 0}`,
          errorMessage: `${v} must not contain 0.0.0.0/0 or ::/0: SSH stays closed to the internet. Give your own networks.`,
        },
      ]),
];

export class HetznerStack extends TerraformStack {
  readonly tier: PresetTierName;
  readonly settings: Settings;
  /** render() output embedded in this stack's user-data. */
  readonly rendered: RenderedFile[];
  readonly server: Server;
  readonly firewall: Firewall;
  /** The ingest endpoint's key and certificate (Terraform's), and the certificate's fingerprint. */
  readonly ingestTls: IngestTls;

  constructor(scope: Construct, id: string, props: HetznerStackProps) {
    super(scope, id);
    const tier = props.tier;
    if (!isPresetTierName(tier))
      throw new StackInputError(
        `stack ${id}: tier "${String(tier)}" is not minimum, recommended or powerhouse`,
      );
    this.tier = tier;
    const allowedTypes = serverTypesFor(tier);
    const serverTypeDefault = props.serverType ?? HETZNER_SERVER_TYPES[tier].name;
    if (!allowedTypes.includes(serverTypeDefault))
      throw new StackInputError(
        `stack ${id}: server type "${serverTypeDefault}" is too small or unknown for tier ${tier}; use one of ${allowedTypes.join(', ')}`,
      );
    const locationDefault = props.location ?? DEFAULT_LOCATION;
    if (!(locationDefault in HETZNER_LOCATIONS))
      throw new StackInputError(
        `stack ${id}: location "${locationDefault}" is not one of ${Object.keys(HETZNER_LOCATIONS).join(', ')}`,
      );
    const image = props.image ?? DEFAULT_IMAGE;
    if (!(SUPPORTED_IMAGES as readonly string[]).includes(image))
      throw new StackInputError(
        `stack ${id}: image "${image}" is not supported; use ${SUPPORTED_IMAGES.join(', ')}`,
      );
    if (props.adminCidrs) checkCidrs(props.adminCidrs, `stack ${id}: adminCidrs`, { allowWorld: false });
    if (props.clientCidrs) checkCidrs(props.clientCidrs, `stack ${id}: clientCidrs`, { allowWorld: true });
    const volumeDefault = props.dataVolumeGb ?? 0;
    if (!(
      volumeDefault === 0 ||
      (Number.isInteger(volumeDefault) && volumeDefault >= 10 && volumeDefault <= 10240)
    ))
      throw new StackInputError(`stack ${id}: dataVolumeGb must be 0 or a whole number from 10 to 10240`);

    new LocalBackend(this, { path: props.statePath ?? `../../../terraform.${id}.tfstate` });

    // --- Inputs.
    const hcloudToken = new TerraformVariable(this, 'hcloud_token', {
      type: 'string',
      sensitive: true,
      nullable: true,
      description: 'Hetzner Cloud API token (read & write). Unset: the provider reads HCLOUD_TOKEN.',
      validation: [
        {
          condition: '${var.hcloud_token == null ? true : length(var.hcloud_token) == 64}',
          errorMessage:
            'hcloud_token must be the 64-character API token of a Hetzner Cloud project (Console: Security, API tokens).',
        },
      ],
    });
    const sshPublicKey = new TerraformVariable(this, 'ssh_public_key', {
      type: 'string',
      description:
        'OpenSSH public key for root on the server (one line, e.g. the content of ~/.ssh/id_ed25519.pub).',
      validation: [
        {
          condition:
            '${can(regex("^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\\\\.com|sk-ecdsa-sha2-nistp256@openssh\\\\.com) [A-Za-z0-9+/]+={0,3}( [^\\\\n]*)?$", trimspace(var.ssh_public_key)))}',
          errorMessage:
            'ssh_public_key must be one OpenSSH public key line such as "ssh-ed25519 AAAA... you@host" (not the private key).',
        },
      ],
    });
    const sshPrivateKey = new TerraformVariable(this, 'ssh_private_key', {
      type: 'string',
      sensitive: true,
      nullable: true,
      description:
        'Private key Terraform uses to copy the ingest worker to the server. Unset: your SSH agent (ssh-add) is used.',
    });
    // Optional inputs default to null (cdktf cannot express a null default, hence the override).
    hcloudToken.addOverride('default', null);
    sshPrivateKey.addOverride('default', null);
    const adminCidrs = new TerraformVariable(this, 'admin_cidrs', {
      type: 'list(string)',
      default: props.adminCidrs ? [...props.adminCidrs] : undefined,
      description:
        'Networks allowed to SSH to the server and to reach the ops dashboard and admin routes over HTTPS (and Terraform must be in one of them).',
      validation: cidrListValidation('admin_cidrs', false),
    });
    const clientCidrs = new TerraformVariable(this, 'client_cidrs', {
      type: 'list(string)',
      default: props.clientCidrs ? [...props.clientCidrs] : undefined,
      description: `Networks allowed to reach the ingest endpoint (HTTPS ${INGEST_HTTPS_PORT}) and PgBouncer (${DEFAULT_PORTS.pgbouncer}).`,
      validation: cidrListValidation('client_cidrs', true),
    });
    const location = new TerraformVariable(this, 'location', {
      type: 'string',
      default: locationDefault,
      description: 'Hetzner location.',
      validation: [
        {
          condition: `\${contains(${JSON.stringify(Object.keys(HETZNER_LOCATIONS))}, var.location)}`,
          errorMessage: `location must be one of ${Object.keys(HETZNER_LOCATIONS).join(', ')}.`,
        },
      ],
    });
    const serverType = new TerraformVariable(this, 'server_type', {
      type: 'string',
      default: serverTypeDefault,
      description: `Server type; at least the ${tier} tier's cores and RAM, which its configuration assumes.`,
      validation: [
        {
          condition: `\${contains(${JSON.stringify(allowedTypes)}, var.server_type)}`,
          errorMessage: `server_type must be one of ${allowedTypes.join(', ')} for tier ${tier} (dedicated vCPUs with at least the tier's cores and RAM).`,
        },
      ],
    });
    const dataVolumeGb = new TerraformVariable(this, 'data_volume_gb', {
      type: 'number',
      default: volumeDefault,
      description:
        "Size of a Hetzner volume mounted at /var/lib/postgresql, 0 for none. Use one when the data outgrows the server's local NVMe.",
      validation: [
        {
          condition:
            '${var.data_volume_gb == 0 || (var.data_volume_gb >= 10 && var.data_volume_gb <= 10240 && floor(var.data_volume_gb) == var.data_volume_gb)}',
          errorMessage: 'data_volume_gb must be 0 (no volume) or a whole number of GB from 10 to 10240.',
        },
      ],
    });

    // Backups: Hetzner Object Storage (S3). The hcloud provider cannot make buckets: create one in the Console
    // (Object Storage) and S3 credentials (Security, S3 credentials); see stacks/README.md.
    const optional = (id: string, description: string, sensitive = false) =>
      new TerraformVariable(this, id, { type: 'string', nullable: true, sensitive, description }).addOverride(
        'default',
        null,
      );
    optional(
      'backup_s3_bucket',
      'Bucket for backups (pgBackRest, encrypted). Unset: NO backups, and plan, apply and /readyz say so. Make it in the Hetzner Console first.',
    );
    optional(
      'backup_s3_endpoint',
      'S3 endpoint of the bucket; unset: <location>.your-objectstorage.com (Hetzner Object Storage).',
    );
    optional('backup_s3_region', "The bucket's region; unset: the server's location (fsn1, nbg1, hel1).");
    optional(
      'backup_s3_access_key',
      'S3 access key of the bucket (Hetzner Console: Security, S3 credentials).',
      true,
    );
    optional('backup_s3_secret_key', 'S3 secret key of the bucket.', true);
    // Loud at plan and apply (a warning, not an error: a first try may go without), and again by powerhouse-backup-setup.
    this.addOverride('check.backup_repository.assert', [
      { condition: '${var.backup_s3_bucket != null}', error_message: NO_REPOSITORY_WARNING },
    ]);

    // --- Tier: the same tune() and render() the tests boot for real.
    // The WAL margin of backups follows the tier's server disk (tune's default for a preset tier).
    this.settings = tune(presetTier(tier));
    const target = hetznerTarget();
    assertValidWorkerConfig(this.settings, target);
    const deployment = describeDeployment(this.settings, target);
    this.rendered = [...deployment.files];
    const bouncerPort = DEFAULT_PORTS.pgbouncer;

    new HcloudProvider(this, 'hcloud', { token: hcloudToken.stringValue });
    new RandomProvider(this, 'random');
    const secrets = new StackSecrets(this, 'secrets');
    const name = `powerhouse-${tier}`;
    const labels = { app: 'db-powerhouse', tier };
    const protect = tier === 'powerhouse';

    const sshKey = new SshKey(this, 'admin_key', {
      name: `${name}-admin`,
      publicKey: sshPublicKey.stringValue,
      labels,
    });
    const network = new Network(this, 'network', { name, ipRange: PRIVATE_NETWORK.range, labels });
    const zones = new TerraformLocal(this, 'network_zones', { ...HETZNER_LOCATIONS });
    const subnet = new NetworkSubnet(this, 'subnet', {
      networkId: Token.asNumber(network.id),
      type: 'cloud',
      ipRange: PRIVATE_NETWORK.subnet,
      networkZone: Fn.lookup(zones.asStringMap, location.stringValue),
    });

    const rule = (port: number, sourceIps: string[], description: string) => ({
      direction: 'in' as const,
      protocol: 'tcp' as const,
      port: String(port),
      sourceIps,
      description,
    });
    this.firewall = new Firewall(this, 'firewall', {
      name,
      labels,
      rule: [
        rule(22, adminCidrs.listValue, 'SSH from admin networks'),
        rule(INGEST_HTTPS_PORT, clientCidrs.listValue, 'ingest endpoint (HTTPS) from client networks'),
        // The ops dashboard and the admin routes on the same port; Caddy answers them to admin_cidrs only.
        rule(
          INGEST_HTTPS_PORT,
          adminCidrs.listValue,
          'ops dashboard and admin routes (HTTPS) from admin networks',
        ),
        rule(bouncerPort, clientCidrs.listValue, 'PgBouncer from client networks'),
        {
          direction: 'in',
          protocol: 'icmp',
          sourceIps: adminCidrs.listValue,
          description: 'ping from admin networks',
        },
      ],
    });

    const doc = userData({
      tier,
      deployment,
      privateIp: PRIVATE_NETWORK.serverIp,
      secretRef: (n, form) => secrets.ref(n, form),
      dataVolumeGb: Token.asString(dataVolumeGb.numberValue),
    });
    // Terraform references are longer than the values they stand for (40-character passwords, 64-hex hashes),
    // so the document as synthesized bounds what Hetzner receives; the test checks the resolved size too.
    if (Buffer.byteLength(doc) >= USER_DATA_LIMIT_BYTES)
      throw new Error(`user-data of tier ${tier} is ${Buffer.byteLength(doc)} bytes, over Hetzner's 32 KiB`);

    this.server = new Server(this, 'server', {
      name,
      serverType: serverType.stringValue,
      image,
      location: location.stringValue,
      userData: doc,
      sshKeys: [sshKey.id],
      publicNet: [{ ipv4Enabled: true, ipv6Enabled: true }],
      // Hetzner's daily disk images as well: a whole-server fallback, not point-in-time (pgBackRest is that).
      backups: true,
      firewallIds: [Token.asNumber(this.firewall.id)],
      network: [{ networkId: Token.asNumber(network.id), ip: PRIVATE_NETWORK.serverIp, aliasIps: [] }],
      deleteProtection: protect,
      rebuildProtection: protect,
      shutdownBeforeDeletion: true,
      labels,
      dependsOn: [subnet],
      // These only matter when the server is created; a change must never replace the database server.
      // Configuration changes go through `powerhouse render` (see stacks/README.md).
      lifecycle: { ignoreChanges: ['user_data', 'ssh_keys', 'image'] },
    });

    new Volume(this, 'data_volume', {
      // data_volume_gb is 0 or at least 10: min(size, 1) is the number of volumes.
      count: TerraformCount.of(Fn.min([dataVolumeGb.numberValue, 1])),
      name: `${name}-data`,
      size: dataVolumeGb.numberValue,
      serverId: Token.asNumber(this.server.id),
      automount: false,
      format: 'xfs',
      deleteProtection: protect,
      labels,
    });

    // The ingest endpoint's certificate, for every address it is reached at: the public IPv4 (clients), the
    // private address (servers in the network) and 127.0.0.1 (install-worker's readiness check through Caddy).
    this.ingestTls = new IngestTls(this, 'ingest_tls', {
      ipAddresses: [this.server.ipv4Address, PRIVATE_NETWORK.serverIp, '127.0.0.1'],
    });

    // The worker reaches the server over SSH from this checkout: no package registry on the server's side.
    const bundle = new TerraformAsset(this, 'worker_bundle', {
      path: props.workerBundle.file,
      type: AssetType.FILE,
    });
    const cliBundle = new TerraformAsset(this, 'host_cli_bundle', {
      path: props.workerBundle.hostCli.file,
      type: AssetType.FILE,
    });
    // Every apply brings the server to this version's description (user-data is read at first boot only): the
    // script carries the role setup, the migrate step, the worker's unit and config and the secrets, filled in
    // by Terraform (so its content is sensitive, and its provisioner's output hidden).
    const apply = hostApplyScript({ tier, deployment, privateIp: PRIVATE_NETWORK.serverIp });
    const applyContent = fillPlaceholders(apply, escapeTerraform, (n, form) => secrets.ref(n, form))
      .split(ADMIN_CIDRS_MARKER)
      .join('${join(" ", var.admin_cidrs)}');
    // The repository's file: Terraform fills in the variables (sensitive: it holds the keys and the cipher pass).
    const orEmpty = (v: string) => `\${var.${v} == null ? "" : var.${v}}`;
    const repositoryConf = renderRepositoryConf(
      {
        type: 's3',
        endpoint:
          '${var.backup_s3_endpoint == null ? "${var.location}.your-objectstorage.com" : var.backup_s3_endpoint}',
        bucket: orEmpty('backup_s3_bucket'),
        region: '${var.backup_s3_region == null ? var.location : var.backup_s3_region}',
        path: `/powerhouse-${tier}`,
        key: orEmpty('backup_s3_access_key'),
        keySecret: orEmpty('backup_s3_secret_key'),
      },
      secrets.value('backup_cipher_pass'),
    );
    new DataResource(this, 'ingest_worker', {
      triggersReplace: {
        server: this.server.id,
        bundle: props.workerBundle.sha256,
        host_cli: props.workerBundle.hostCli.sha256,
        // The repository's variables: a new bucket or key re-runs the setup.
        repository:
          '${nonsensitive(sha256(jsonencode([var.backup_s3_bucket, var.backup_s3_endpoint, var.backup_s3_region, var.backup_s3_access_key, var.backup_s3_secret_key])))}',
        // The description as synthesized (placeholders, not secrets): a change re-runs powerhouse-apply.
        host_files: createHash('sha256').update(apply).digest('hex'),
        // New admin networks re-run powerhouse-apply, which writes them for Caddy.
        admin_cidrs: '${join(",", var.admin_cidrs)}',
        // A new certificate (and with it a new key) must reach the host (public: the key is not a trigger).
        tls_certificate: this.ingestTls.certificatePem,
      },
      connection: {
        type: 'ssh',
        host: this.server.ipv4Address,
        user: 'root',
        privateKey: sshPrivateKey.stringValue,
        // Whether a key is given is not secret; without nonsensitive() Terraform would hide all provisioner output.
        agent: '${nonsensitive(var.ssh_private_key == null)}',
        timeout: '5m',
      },
      provisioners: [
        { type: 'file', source: bundle.path, destination: HOST.workerUpload },
        { type: 'file', source: cliBundle.path, destination: HOST.cliUpload },
        { type: 'file', content: repositoryConf, destination: HOST.repositoryUpload },
        // The ingest endpoint's certificate and key; powerhouse-apply installs them for Caddy. The key is a
        // reference to Terraform's state (sensitive: Terraform shows neither it nor this provisioner's output).
        { type: 'file', content: this.ingestTls.certificatePem, destination: HOST.tlsCertUpload },
        { type: 'file', content: this.ingestTls.privateKeyPem, destination: HOST.tlsKeyUpload },
        { type: 'file', content: applyContent, destination: APPLY_UPLOAD },
        {
          type: 'remote-exec',
          inline: [
            // The script and the key hold secrets: removed whatever the outcome.
            `bash ${APPLY_UPLOAD}; rc=$?; rm -f ${APPLY_UPLOAD} ${HOST.tlsKeyUpload} ${HOST.tlsCertUpload}; exit $rc`,
            `${HOST.installWorker} ${HOST.workerUpload} ${props.workerBundle.sha256} ${HOST.cliUpload} ${props.workerBundle.hostCli.sha256}`,
            HOST.backupSetup,
          ],
        },
      ],
    });

    // --- Outputs. Secrets are sensitive: `terraform output -raw ingest_token` (see how_to_get_secrets).
    const out = (id: string, value: string, description: string, sensitive = false) =>
      new TerraformOutput(this, id, { value, description, sensitive }).overrideLogicalId(id);
    const ip = this.server.ipv4Address;
    out('server_ipv4', ip, 'Public IPv4 of the server.');
    out(
      'ingest_url',
      `https://${ip}`,
      'Ingest endpoint (self-signed certificate: pin tls_fingerprint_sha256 or trust tls_certificate_pem; connect_info has all three).',
    );
    out(
      'connect_info',
      connectInfoExpression({
        endpoint: `https://${ip}`,
        certificatePem: this.ingestTls.certificatePem,
        fingerprintSha256: this.ingestTls.fingerprintSha256,
        tables: clientTableNames(deployment),
      }),
      'What a desktop app needs to reach this deployment (JSON: endpoint, certificate and fingerprint to pin, tables; no token): terraform output -raw connect_info > connect-info.json',
    );
    out(
      'tls_certificate_pem',
      this.ingestTls.certificatePem,
      "The ingest endpoint's self-signed certificate (PEM), made by Terraform: trust it as the only CA (curl --cacert, the SDK's ca).",
    );
    out(
      'tls_fingerprint_sha256',
      this.ingestTls.fingerprintSha256,
      "SHA-256 fingerprint of the ingest endpoint's certificate, as openssl x509 -fingerprint -sha256 prints it: what clients pin.",
    );
    out(
      'pgbouncer_endpoint',
      `${ip}:${bouncerPort}`,
      `PgBouncer host:port for app clients (user powerhouse_app). TLS is required, plaintext is refused: connect with sslmode=verify-full and sslrootcert = PgBouncer's self-signed certificate, a copy of ${HOST.pgbouncerCa} on the server (check it with pgbouncer_tls_fingerprint_command).`,
    );
    out(
      'private_ip',
      PRIVATE_NETWORK.serverIp,
      'Address in the private network (PgBouncer for servers in the network).',
    );
    out('ssh_command', `ssh root@${ip}`, 'Admin shell (from admin_cidrs).');
    out(
      'pgbouncer_tls_fingerprint_command',
      `ssh root@${ip} openssl x509 -in ${HOST.pgbouncerTlsCert} -noout -fingerprint -sha256`,
      "Prints the SHA-256 fingerprint of PgBouncer's certificate for clients to pin (sslrootcert).",
    );
    out(
      'how_to_get_secrets',
      `cd cdktf.out/stacks/${id} && terraform output -raw ingest_token   (also: admin_token, app_password, superuser_password)`,
      'Secrets are sensitive outputs: print one at a time, never in logs.',
    );
    out(
      'backup_repository',
      `\${var.backup_s3_bucket == null ? "NONE: no backups (set backup_s3_bucket)" : "s3://\${var.backup_s3_bucket}/powerhouse-${tier} (pgBackRest, aes-256-cbc)"}`,
      'Where backups go; `ssh root@<server> powerhouse backups` lists them.',
    );
    out(
      'backup_cipher_pass',
      secrets.value('backup_cipher_pass'),
      'Key of the backup repository: keep a copy off this server and its Terraform state (a lost key = unreadable backups).',
      true,
    );
    out('ingest_token', secrets.value('ingest_token'), 'Bearer token for uploads.', true);
    out(
      'admin_token',
      secrets.value('admin_token'),
      'Bearer token for /v1/admin/* (powerhouse token add|list|revoke, powerhouse uploads).',
      true,
    );
    out('app_password', secrets.value('app_password'), 'Password of powerhouse_app through PgBouncer.', true);
    out(
      'superuser_password',
      secrets.value('superuser_password'),
      'PostgreSQL superuser (also in /root/.pgpass).',
      true,
    );
  }
}
