//! Which place a run occupies while it runs: its [`Slot`] (0 to `parallelism - 1`, lowest free
//! first, so the slots of a job are few and reused) and its [`PortBlock`] (100 TCP ports that
//! no other run in this process is given while it holds them).

use std::sync::{Arc, Mutex, PoisonError};

/// First port of block 0 (`FLAKY_PORT_BASE` of slot 0).
pub const PORT_BASE: u16 = 20_000;
/// Ports in one block: `FLAKY_PORT_BASE` to `FLAKY_PORT_BASE + 99`.
pub const PORTS_PER_BLOCK: u16 = 100;
/// Blocks that fit below 32768, where Linux's ephemeral (outgoing) ports begin by default, so
/// a suite's fixed ports never meet the kernel's choices: 20000 to 32699.
pub const PORT_BLOCKS: usize = ((32_768 - PORT_BASE) / PORTS_PER_BLOCK) as usize;

/// The slots of one job. Cloning shares the pool.
#[derive(Debug, Clone, Default)]
pub struct SlotPool(Arc<Mutex<Vec<bool>>>);

/// A slot held by a run; freed when dropped.
#[derive(Debug)]
pub struct Slot {
    pool: SlotPool,
    number: u32,
}

impl SlotPool {
    /// The lowest free slot. Since the fan-out lets at most `parallelism` runs in at once,
    /// the numbers stay below `parallelism` without the pool having to know it.
    pub fn take(&self) -> Slot {
        let mut used = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let number = match used.iter().position(|u| !u) {
            Some(free) => free,
            None => {
                used.push(false);
                used.len() - 1
            }
        };
        used[number] = true;
        Slot {
            pool: self.clone(),
            number: number as u32,
        }
    }
}

impl Slot {
    pub fn number(&self) -> u32 {
        self.number
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut used = self.pool.0.lock().unwrap_or_else(PoisonError::into_inner);
        used[self.number as usize] = false;
    }
}

/// Holders per port block, for the whole process: the local API can run several jobs at once,
/// and their slot 0s must not share ports. Ports are a machine-wide resource, so this one
/// piece of state is global on purpose.
static BLOCKS: Mutex<[u32; PORT_BLOCKS]> = Mutex::new([0; PORT_BLOCKS]);

/// A block of [`PORTS_PER_BLOCK`] ports held by a run; freed when dropped.
#[derive(Debug)]
pub struct PortBlock {
    index: usize,
}

impl PortBlock {
    /// The lowest free block. With a single job in the process that is the run's slot number.
    /// Only when more than [`PORT_BLOCKS`] runs hold one at once do two runs share a block
    /// (the least shared one).
    pub fn take() -> PortBlock {
        let mut holders = BLOCKS.lock().unwrap_or_else(PoisonError::into_inner);
        let index = match holders.iter().position(|&h| h == 0) {
            Some(free) => free,
            None => (0..PORT_BLOCKS)
                .min_by_key(|&i| holders[i])
                .expect("there is at least one block"),
        };
        holders[index] += 1;
        PortBlock { index }
    }

    /// `FLAKY_PORT_BASE`: the first port of the block.
    pub fn base(&self) -> u16 {
        PORT_BASE + self.index as u16 * PORTS_PER_BLOCK
    }
}

impl Drop for PortBlock {
    fn drop(&mut self) {
        let mut holders = BLOCKS.lock().unwrap_or_else(PoisonError::into_inner);
        holders[self.index] -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_the_lowest_free_numbers() {
        let pool = SlotPool::default();
        let a = pool.take();
        let b = pool.take();
        let c = pool.take();
        assert_eq!((a.number(), b.number(), c.number()), (0, 1, 2));
        drop(b);
        assert_eq!(pool.take().number(), 1);
        let other_job = SlotPool::default();
        assert_eq!(other_job.take().number(), 0, "pools are per job");
    }

    #[test]
    fn port_blocks_held_at_once_never_overlap() {
        let blocks: Vec<PortBlock> = (0..10).map(|_| PortBlock::take()).collect();
        let mut bases: Vec<u16> = blocks.iter().map(PortBlock::base).collect();
        bases.sort_unstable();
        for pair in bases.windows(2) {
            assert!(pair[1] - pair[0] >= PORTS_PER_BLOCK, "{bases:?}");
        }
        let top = bases.last().copied().unwrap_or(PORT_BASE);
        assert!(u32::from(top) + u32::from(PORTS_PER_BLOCK) <= 32_768);
    }
}
