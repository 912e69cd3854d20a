// SPDX-License-Identifier: GPL-2.0

//! The module's behaviour, one test per documented rule, against the real `/dev/mydev`.

mod huge;
mod ioctl;
mod load;
mod mmap;
mod rw;

use guest_tests::sys::*;
use huge::*;
use ioctl::*;
use load::*;
use mmap::*;
use rw::*;
use std::process::ExitCode;

const RW: libc::c_int = libc::PROT_READ | libc::PROT_WRITE;

/// A recognisable byte pattern.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1)
        .collect()
}

fn size() -> Result<usize, String> {
    device_size()
}

fn rw() -> Result<std::os::fd::OwnedFd, String> {
    open_rw().map_err(|e| format!("open {DEVICE}: {e}"))
}

fn main() -> ExitCode {
    guest_tests::main(guest_tests::tests![
        node_is_a_misc_device_created_at_load,
        size_ioctl_reports_the_parameter,
        default_size_is_one_page,
        buffer_is_zero_after_reload,
        bad_size_parameters_fail_the_load_cleanly,
        largest_size_loads_maps_and_is_freed_at_unload,
        rmmod_fails_while_open_and_succeeds_after,
        rmmod_fails_while_a_mapping_exists,
        read_returns_min_of_count_and_rest_and_advances,
        read_at_or_past_the_end_returns_zero,
        write_at_the_end_is_enospc_and_crossing_it_is_short,
        write_advances_the_position,
        sequential_write_to_the_end_then_enospc,
        unmapped_user_buffers_give_efault,
        partially_unmapped_user_buffer_gives_a_short_count,
        writes_from_pages_not_yet_present_copy_everything,
        readv_and_writev_follow_the_same_rules,
        lseek_set_cur_end_move_inside_the_buffer,
        lseek_outside_the_buffer_is_einval_and_keeps_the_position,
        lseek_data_and_hole_answer_as_a_file_without_holes,
        read_and_write_go_where_lseek_put_them,
        read_write_and_lseek_on_a_shared_file_take_turns,
        every_opener_sees_the_same_bytes,
        read_only_open_cannot_write,
        ordinary_clients_cat_dd_head_cmp,
        mapping_and_write_see_each_other_immediately,
        mappings_in_two_processes_share_bytes,
        fork_child_shares_the_inherited_mapping,
        any_page_aligned_range_inside_maps,
        long_mappings_map_every_page_to_its_own_offset,
        ranges_outside_the_buffer_are_einval,
        read_only_open_gets_read_only_mappings_only,
        private_mapping_reads_the_buffer_and_keeps_its_stores,
        first_store_to_an_untouched_private_page_stays_private,
        private_stores_after_madv_dontneed_stay_private,
        private_writable_mappings_of_a_read_only_open_stay_private,
        private_mapping_sees_later_writes_until_it_copies_a_page,
        fork_keeps_each_processs_private_copies_apart,
        private_and_shared_mappings_of_one_page_side_by_side,
        private_mappings_follow_the_range_rules,
        executable_mappings_are_refused_now_and_later,
        mremap_cannot_grow_but_shrinks_and_moves,
        munmap_of_a_middle_page_keeps_the_rest_in_place,
        dropped_pages_come_back_with_current_contents,
        mapping_outlives_its_file_descriptor,
        whole_parts_are_2m_folios_counted_in_fdinfo,
        aligned_shared_mappings_map_whole_parts_with_pmd_entries,
        pmd_entries_only_where_address_and_offset_line_up,
        mmap_without_an_address_lines_up_with_the_offset,
        munmap_of_part_of_a_pmd_entry_keeps_the_rest,
        mprotect_of_part_of_a_pmd_entry_keeps_the_rest,
        madv_dontneed_of_part_of_a_pmd_entry_keeps_the_rest,
        mremap_of_part_of_a_pmd_entry_keeps_the_rest,
        mremap_moves_whole_pmd_entries,
        private_mappings_of_huge_parts_use_4k_entries_and_stay_private,
        huge_parts_map_4k_where_thp_is_refused,
        a_small_part_between_huge_parts_maps_4k_between_pmd_entries,
        unload_after_pmd_splits_frees_every_part,
        unknown_ioctls_are_enotty,
        size_ioctl_with_a_bad_pointer_is_efault,
        clear_zeroes_the_buffer_and_needs_write_access,
        fdinfo_shows_the_size,
        no_log_line_per_call,
    ])
}
