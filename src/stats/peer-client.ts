/**
 * Names the BitTorrent client behind a peer_id, for the per-torrent stats view.
 * Pure and total: any 20 bytes give a result, unknown ones `Unknown`.
 *
 * The conventions (no BEP fixes them; BEP 20 describes the common ones):
 * - Azureus style `-XXvvvv-`: two-letter client code, four version characters
 *   (0-9, then A-Z for 10-35, a-z for 36-61, as libtorrent and Deluge do).
 * - Shadow style `Xvvvvv---`: one letter, up to five version characters padded
 *   with `-`, then (usually) three dashes.
 * - Mainline `M4-3-6--`, aria2 `A2-1-36-0-`: dash-separated decimal versions.
 */
export interface PeerClient {
  /** Human-readable client name, e.g. `qBittorrent`; `Unknown` when not recognised. */
  name: string;
  /** Dotted version, possibly empty. */
  version: string;
}

/** Two-letter Azureus-style codes; a subset of the well-known list, the clients one meets today. */
const AZUREUS: Readonly<Record<string, string>> = {
  AG: 'Ares',
  AR: 'Arctic',
  AT: 'Artemis',
  AX: 'BitPump',
  AZ: 'Vuze',
  BB: 'BitBuddy',
  BC: 'BitComet',
  BE: 'Baretorrent',
  BF: 'Bitflu',
  BI: 'BiglyBT',
  BL: 'BitCometLite',
  BM: 'BitMagnet',
  BN: 'Baidu Netdisk',
  BR: 'BitRocket',
  BS: 'BTSlave',
  BT: 'BitTorrent',
  BW: 'BitWombat',
  BX: 'BittorrentX',
  CD: 'Enhanced CTorrent',
  CT: 'CTorrent',
  DE: 'Deluge',
  DP: 'Propagate Data Client',
  EB: 'EBit',
  ES: 'Electric Sheep',
  FC: 'FileCroc',
  FD: 'Free Download Manager',
  FT: 'FoxTorrent',
  FX: 'Freebox BitTorrent',
  GS: 'GSTorrent',
  HK: 'Hekate',
  HL: 'Halite',
  HM: 'hMule',
  HN: 'Hydranode',
  IL: 'iLivid',
  JS: 'Justseed.it',
  JT: 'JavaTorrent',
  KG: 'KGet',
  KT: 'KTorrent',
  LC: 'LeechCraft',
  LH: 'LH-ABC',
  LP: 'Lphant',
  LT: 'libtorrent (Rasterbar)',
  LW: 'LimeWire',
  MK: 'Meerkat',
  MO: 'MonoTorrent',
  MP: 'MooPolice',
  MR: 'Miro',
  MT: 'MoonlightTorrent',
  NB: 'Net::BitTorrent',
  NX: 'Net Transport',
  OS: 'OneSwarm',
  OT: 'OmegaTorrent',
  PB: 'Protocol::BitTorrent',
  PD: 'Pando',
  PI: 'PicoTorrent',
  QD: 'QQDownload',
  QT: 'Qt 4 Torrent example',
  RT: 'Retriever',
  SB: '~Swiftbit',
  SD: 'Thunder (XunLei)',
  SM: 'SoMud',
  SP: 'BitSpirit',
  SS: 'SwarmScope',
  ST: 'SymTorrent',
  SZ: 'Shareaza',
  TB: 'Torch',
  TE: 'terasaur Seed Bank',
  TL: 'Tribler',
  TN: 'TorrentDotNET',
  TR: 'Transmission',
  TS: 'Torrentstorm',
  TT: 'TuoTu',
  UL: 'uLeecher!',
  UM: 'µTorrent for Mac',
  UT: 'µTorrent',
  UW: 'µTorrent Web',
  VG: 'Vagaa',
  WD: 'WebTorrent Desktop',
  WT: 'BitLet',
  WW: 'WebTorrent',
  WY: 'FireTorrent',
  XF: 'Xfplay',
  XL: 'Xunlei',
  XS: 'XSwifter',
  XT: 'XanTorrent',
  XX: 'Xtorrent',
  ZT: 'ZipTorrent',
  lt: 'libTorrent (rakshasa)',
  pX: 'pHoeniX',
  qB: 'qBittorrent',
  st: 'sharktorrent',
};

const SHADOW: Readonly<Record<string, string>> = {
  A: 'ABC',
  O: 'Osprey Permaseed',
  Q: 'BTQueue',
  R: 'Tribler',
  S: 'Shadow',
  T: 'BitTornado',
  U: 'UPnP NAT Bit Torrent',
};

const UNKNOWN: PeerClient = Object.freeze({ name: 'Unknown', version: '' });

/** `0`-`9`, `A`-`Z`, `a`-`z` → 0..61; anything else undefined. */
function digitValue(c: string): number | undefined {
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 90) return code - 55;
  if (code >= 97 && code <= 122) return code - 61;
  return undefined;
}

export function decodePeerClient(peerId: Buffer): PeerClient {
  if (peerId.length < 8) return UNKNOWN;
  // latin1 maps bytes 1:1 to chars, so offsets below are byte offsets.
  const id = peerId.toString('latin1', 0, Math.min(peerId.length, 20));
  return azureus(id) ?? aria2(id) ?? mainline(id) ?? shadow(id) ?? UNKNOWN;
}

/** `qBittorrent 4.6.5`, or `Unknown`. */
export function formatPeerClient(client: PeerClient): string {
  return client.version ? `${client.name} ${client.version}` : client.name;
}

function azureus(id: string): PeerClient | undefined {
  if (id[0] !== '-' || id[7] !== '-') return undefined;
  const code = id.slice(1, 3);
  const name = AZUREUS[code];
  if (name === undefined) return undefined;
  const chars = id.slice(3, 7);
  if (code === 'TR') return { name, version: transmissionVersion(chars) };
  const digits: number[] = [];
  for (const c of chars) {
    const d = digitValue(c);
    if (d === undefined) return { name, version: '' };
    digits.push(d);
  }
  // Most clients use three components and pad the fourth with 0 (`-qB4650-` is 4.6.5);
  // a non-zero fourth is a build number worth showing.
  const shown = digits[3] === 0 ? digits.slice(0, 3) : digits;
  return { name, version: shown.join('.') };
}

/**
 * Transmission: `-TR2940-` is 2.94, `-TR3000-` 3.00 (two-digit minor before 4.0);
 * from 4.0 `-TR4050-` is 4.0.5. A last character `Z` marks a beta, `X` a development build.
 */
function transmissionVersion(chars: string): string {
  const suffix = chars[3] === 'Z' ? ' beta' : chars[3] === 'X' ? ' dev' : '';
  const d = [...chars.slice(0, 3)].map(digitValue);
  if (d.some((x) => x === undefined)) return '';
  const [major, b, c] = d as number[];
  const version = (major as number) < 4 ? `${major}.${b}${c}` : `${major}.${b}.${c}`;
  return version + suffix;
}

function aria2(id: string): PeerClient | undefined {
  const m = /^A2-(\d{1,3})-(\d{1,3})-(\d{1,3})-/.exec(id);
  return m ? { name: 'aria2', version: `${m[1]}.${m[2]}.${m[3]}` } : undefined;
}

/** BitTorrent mainline (and BitTorrent 5+ which moved to Azureus style): `M4-3-6--`, `M7-10-3-`. */
function mainline(id: string): PeerClient | undefined {
  const m = /^M(\d{1,2})-(\d{1,2})-(\d{1,2})-/.exec(id);
  return m ? { name: 'BitTorrent (mainline)', version: `${m[1]}.${m[2]}.${m[3]}` } : undefined;
}

/** `S58B-----`: Shadow 5.8.11; `T03I-----`: BitTornado 0.3.18. */
function shadow(id: string): PeerClient | undefined {
  const name = SHADOW[id[0] as string];
  if (name === undefined || id.slice(6, 9) !== '---') return undefined;
  const digits: number[] = [];
  for (const c of id.slice(1, 6)) {
    if (c === '-') break;
    const d = c === '.' ? 62 : digitValue(c);
    if (d === undefined) return undefined;
    digits.push(d);
  }
  if (digits.length === 0) return undefined;
  return { name, version: digits.join('.') };
}
