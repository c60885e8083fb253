// Where a node puts a Pod's containers on its CPUs, for the bench's Envoy and sidecar: the kubelet
// gives every container a cgroup whose CPU weight follows its CPU request (cgroup v1 `cpu.shares` =
// milliCPU * 1024 / 1000, at least 2: MilliCPUToShares, pkg/kubelet/cm/helpers_linux.go), under one
// cgroup per Pod. When Envoy and the sidecar both want a CPU, the kernel splits it by those weights;
// with every process in one cgroup (the bench before this), the injected sidecar's 10m request weighed
// as much as Envoy.
//
// BENCH_POD_CGROUPS=0 turns it off; it needs root and cgroup v1's cpu controller at
// /sys/fs/cgroup/cpu (what this machine has); elsewhere the bench says so and runs without. One group
// per Setup (a Pod): `envoy-xds-bench-<bench pid>-<n>/` (the Pod, default weight 1024: the Pod as a
// whole weighs what the bench's own process, the probe, weighs) with `envoy/` and `sidecar/` in it.
import { mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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

let created = 0;

/** One Pod's CPU cgroups; `place` moves a process (all its threads, and what it starts later) into a container's. */
export class PodCpuGroups {
  private constructor(private readonly dir: string) {}

  /** Undefined (and why, once) when cgroups cannot be used here or BENCH_POD_CGROUPS=0. */
  static create(shares: { envoy: number; sidecar: number }): PodCpuGroups | undefined {
    if (process.env.BENCH_POD_CGROUPS === '0') return undefined;
    const dir = join(CPU_ROOT, `envoy-xds-bench-${String(process.pid)}-${String(++created)}`);
    try {
      mkdirSync(dir);
      for (const [name, value] of Object.entries(shares)) {
        mkdirSync(join(dir, name));
        writeFileSync(join(dir, name, 'cpu.shares'), String(value));
      }
      return new PodCpuGroups(dir);
    } catch (err) {
      if (created === 1) process.stderr.write(`bench: no Pod CPU cgroups (${(err as Error).message}): Envoy and the sidecar weigh alike\n`);
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
        for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((line) => line !== '')) writeFileSync(join(CPU_ROOT, 'cgroup.procs'), pid);
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
