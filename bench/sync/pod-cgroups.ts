// Where a node puts a Pod's containers on its CPUs, for the bench's Envoy and sidecar: the kubelet
// gives every container a cgroup whose CPU weight follows its CPU request (cgroup v1 `cpu.shares` =
// milliCPU * 1024 / 1000, at least 2: MilliCPUToShares, pkg/kubelet/cm/helpers_linux.go), under one
// cgroup per Pod. When Envoy and the sidecar both want a CPU, the kernel splits it by those weights;
// with every process in one cgroup (the bench before this), the injected sidecar's 10m request weighed
// as much as Envoy.
//
// BENCH_POD_CGROUPS=1 turns it on; it needs root and cgroup v1's cpu controller at
// /sys/fs/cgroup/cpu (what this machine has); elsewhere the bench says so and runs without. Off by
// default: on this VM every implementation, `watched_directory` too (no sidecar), was served far
// later in these groups (p90 158-198 ms against 14-20 ms in one cgroup, a minute apart at load
// 1.6-2.4), which the weights alone do not explain; a tool to look into that, not a figure yet. The
// bench's own process (the probe, kubelet's AtomicWriter, the stand-ins) moves into
// `envoy-xds-bench-<pid>/` (the largest weight, 262144: as a node's kubepods group outweighs what
// else runs on it, other jobs on the machine take a CPU from the bench only when it leaves one), and
// each Setup (a Pod) gets `pod-<n>/` in it (weight 1024, as much as the bench's process), with
// `envoy/` and `sidecar/`.
import { mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfig } from '../../src/inject/config.js';
import { parseQuantity } from '../../src/inject/quantity.js';

const CPU_ROOT = '/sys/fs/cgroup/cpu';

/** The kubelet's MilliCPUToShares (pkg/kubelet/cm/helpers_linux.go): cgroup v1 cpu.shares for a CPU request. */
export function milliCpuToShares(milliCpu: number): number {
  return Math.max(2, Math.floor((milliCpu * 1024) / 1000));
}

/** The bench's assumption for Envoy's container: BENCH_ENVOY_CPU_REQUEST_M (milliCPU), default 100 (100m). */
export function envoyCpuRequestMilli(): number {
  const asked = Number(process.env.BENCH_ENVOY_CPU_REQUEST_M ?? '');
  return Number.isFinite(asked) && asked > 0 ? asked : 100;
}

/** The injected sidecar's CPU request in milliCPU (the webhook's default config, `10m`). */
export function sidecarCpuRequestMilli(): number {
  const cpu = defaultConfig('bench').resources.cpuRequest;
  const cores = parseQuantity(cpu);
  if (cores === undefined) throw new Error(`the default config's cpuRequest ${cpu} is not a quantity`);
  return cores * 1000;
}

/** cpu.shares for Envoy's and the sidecar's container cgroups, as the kubelet sets them. */
export function podShares(): { envoy: number; sidecar: number } {
  return { envoy: milliCpuToShares(envoyCpuRequestMilli()), sidecar: milliCpuToShares(sidecarCpuRequestMilli()) };
}

let created = 0;
let warned = false;
let benchGroup: string | undefined;

/** The bench's own group, made and joined on first use; undefined when cgroups cannot be used. */
function joinBenchGroup(): string | undefined {
  if (benchGroup !== undefined) return benchGroup;
  const dir = join(CPU_ROOT, `envoy-xds-bench-${String(process.pid)}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'cpu.shares'), '262144');
  writeFileSync(join(dir, 'cgroup.procs'), String(process.pid));
  benchGroup = dir;
  process.once('exit', () => {
    // Back to the root group, so the group can go (rmdir needs it empty; the Pods' are gone by now).
    try {
      writeFileSync(join(CPU_ROOT, 'cgroup.procs'), String(process.pid));
      rmdirSync(dir);
    } catch {
      // left for the next run to see; harmless
    }
  });
  return dir;
}

/** One Pod's CPU cgroups; `place` moves a process (all its threads, and what it starts later) into a container's. */
export class PodCpuGroups {
  private constructor(private readonly dir: string) {}

  /** Undefined (and why, once) when cgroups cannot be used here or BENCH_POD_CGROUPS=0. */
  static create(shares: { envoy: number; sidecar: number }): PodCpuGroups | undefined {
    if (process.env.BENCH_POD_CGROUPS !== '1') return undefined;
    try {
      const dir = join(joinBenchGroup() ?? CPU_ROOT, `pod-${String(++created)}`);
      mkdirSync(dir);
      for (const [name, value] of Object.entries(shares)) {
        mkdirSync(join(dir, name));
        writeFileSync(join(dir, name, 'cpu.shares'), String(value));
      }
      return new PodCpuGroups(dir);
    } catch (err) {
      if (!warned) process.stderr.write(`bench: no Pod CPU cgroups (${(err as Error).message}): Envoy and the sidecar weigh alike\n`);
      warned = true;
      return undefined;
    }
  }

  /** Moves process `pid` and every process of its process group (a script's children) into `container`. */
  place(container: 'envoy' | 'sidecar', pid: number): void {
    const procs = join(this.dir, container, 'cgroup.procs');
    for (const member of [pid, ...processGroupMembers(pid)]) {
      try {
        writeFileSync(procs, String(member));
      } catch {
        // it ended meanwhile
      }
    }
  }

  /** Removes the groups once their processes ended (moves any left to the root group first). */
  close(): void {
    for (const container of ['envoy', 'sidecar']) {
      const dir = join(this.dir, container);
      try {
        for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((line) => line !== '')) writeFileSync(join(this.dir, '..', 'cgroup.procs'), pid);
        rmdirSync(dir);
      } catch {
        // already gone
      }
    }
    try {
      rmdirSync(this.dir);
    } catch {
      // already gone
    }
  }
}

/** pids whose process group is `pgid` (a detached child leads its own group). */
function processGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so count from its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && Number(entry) !== pgid) members.push(Number(entry));
    } catch {
      // it ended meanwhile
    }
  }
  return members;
}
