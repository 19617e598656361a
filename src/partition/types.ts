/** Names for partition type codes and GUIDs shown to users (boot-and-bcd.md 1.2 and 2.6). */

export const GPT_TYPE = {
  esp: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
  msr: 'e3c9e316-0b5c-4db8-817d-f92df00215ae',
  basicData: 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7',
  windowsRecovery: 'de94bba4-06d1-4d40-a16a-bfd50179d6ac',
  ldmMetadata: '5808c8aa-7e8f-42e0-85d2-e1e90434cfb3',
  ldmData: 'af9b60a0-1431-4f62-bc68-3311714a69ad',
  storageSpaces: 'e75caf8f-f680-4cee-afa3-b001e56efc2d',
  linuxData: '0fc63daf-8483-4772-8e79-3d69d8477de4',
  linuxSwap: '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f',
} as const;

const GPT_NAMES: Record<string, string> = {
  [GPT_TYPE.esp]: 'EFI system',
  [GPT_TYPE.msr]: 'Microsoft reserved',
  [GPT_TYPE.basicData]: 'Basic data',
  [GPT_TYPE.windowsRecovery]: 'Windows recovery',
  [GPT_TYPE.ldmMetadata]: 'LDM metadata (dynamic disk)',
  [GPT_TYPE.ldmData]: 'LDM data (dynamic disk)',
  [GPT_TYPE.storageSpaces]: 'Storage Spaces',
  [GPT_TYPE.linuxData]: 'Linux filesystem',
  [GPT_TYPE.linuxSwap]: 'Linux swap',
};

const MBR_NAMES: Record<number, string> = {
  0x01: 'FAT12', 0x04: 'FAT16 <32M', 0x05: 'Extended', 0x06: 'FAT16', 0x07: 'NTFS/exFAT',
  0x0b: 'FAT32 (CHS)', 0x0c: 'FAT32 (LBA)', 0x0e: 'FAT16 (LBA)', 0x0f: 'Extended (LBA)',
  0x27: 'Windows recovery (hidden)', 0x42: 'LDM (dynamic disk)', 0x82: 'Linux swap', 0x83: 'Linux',
  0x85: 'Linux extended', 0xee: 'GPT protective', 0xef: 'EFI system',
};

export function gptTypeName(typeGuid: string): string {
  return GPT_NAMES[typeGuid] ?? typeGuid;
}

export function mbrTypeName(type: number): string {
  return MBR_NAMES[type] ?? `type 0x${type.toString(16).padStart(2, '0')}`;
}
