"""cffi binding to the few libbpf.so.1 calls bcc does not wrap (ABI mode: no compiler
needed at install time). Everything here takes plain file descriptors, so it works on bcc
program/map fds and on pinned objects alike."""
from __future__ import annotations

import os

import cffi

ffi = cffi.FFI()
ffi.cdef(
    """
    struct bpf_test_run_opts {
        size_t sz;
        const void *data_in;
        void *data_out;
        uint32_t data_size_in;
        uint32_t data_size_out;
        const void *ctx_in;
        void *ctx_out;
        uint32_t ctx_size_in;
        uint32_t ctx_size_out;
        uint32_t retval;
        int repeat;
        uint32_t duration;
        uint32_t flags;
        uint32_t cpu;
        uint32_t batch_size;
    };
    int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts);

    struct bpf_prog_info {
        uint32_t type;
        uint32_t id;
        uint8_t  tag[8];
        uint32_t jited_prog_len;
        uint32_t xlated_prog_len;
        uint64_t jited_prog_insns;
        uint64_t xlated_prog_insns;
        uint64_t load_time;
        uint32_t created_by_uid;
        uint32_t nr_map_ids;
        uint64_t map_ids;
        char name[16];
        uint32_t ifindex;
        uint32_t gpl_compatible_bits;
        uint64_t netns_dev;
        uint64_t netns_ino;
        uint32_t nr_jited_ksyms;
        uint32_t nr_jited_func_lens;
        uint64_t jited_ksyms;
        uint64_t jited_func_lens;
        uint32_t btf_id;
        uint32_t func_info_rec_size;
        uint64_t func_info;
        uint32_t nr_func_info;
        uint32_t nr_line_info;
        uint64_t line_info;
        uint64_t jited_line_info;
        uint32_t nr_jited_line_info;
        uint32_t line_info_rec_size;
        uint32_t jited_line_info_rec_size;
        uint32_t nr_prog_tags;
        uint64_t prog_tags;
        uint64_t run_time_ns;
        uint64_t run_cnt;
        uint64_t recursion_misses;
        uint32_t verified_insns;
        uint32_t attach_btf_obj_id;
        uint32_t attach_btf_id;
        uint32_t pad;
    };
    struct bpf_map_info {
        uint32_t type;
        uint32_t id;
        uint32_t key_size;
        uint32_t value_size;
        uint32_t max_entries;
        uint32_t map_flags;
        char name[16];
        uint32_t ifindex;
        uint32_t btf_vmlinux_value_type_id;
        uint64_t netns_dev;
        uint64_t netns_ino;
        uint32_t btf_id;
        uint32_t btf_key_type_id;
        uint32_t btf_value_type_id;
        uint32_t pad;
        uint64_t map_extra;
    };
    int bpf_obj_get_info_by_fd(int bpf_fd, void *info, uint32_t *info_len);
    int bpf_obj_get(const char *pathname);
    int bpf_obj_pin(int fd, const char *pathname);

    struct bpf_map_batch_opts {
        size_t sz;
        uint64_t elem_flags;
        uint64_t flags;
    };
    int bpf_map_update_batch(int fd, const void *keys, const void *values, uint32_t *count,
                             const struct bpf_map_batch_opts *opts);
    int bpf_map_delete_batch(int fd, const void *keys, uint32_t *count,
                             const struct bpf_map_batch_opts *opts);
    int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys,
                             void *values, uint32_t *count,
                             const struct bpf_map_batch_opts *opts);
    int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags);
    int bpf_map_lookup_elem(int fd, const void *key, void *value);
    int bpf_map_delete_elem(int fd, const void *key);
    int bpf_map_get_next_key(int fd, const void *key, void *next_key);
    """
)
lib = ffi.dlopen("libbpf.so.1")


class BpfError(OSError):
    pass


def check(rc: int, what: str) -> int:
    """libbpf 1.x returns -errno directly."""
    if rc < 0:
        raise BpfError(-rc, f"{what}: {os.strerror(-rc)}")
    return rc


def prog_info(fd: int):
    info = ffi.new("struct bpf_prog_info *")
    n = ffi.new("uint32_t *", ffi.sizeof("struct bpf_prog_info"))
    check(lib.bpf_obj_get_info_by_fd(fd, info, n), "bpf_obj_get_info_by_fd")
    return info


def map_info(fd: int):
    info = ffi.new("struct bpf_map_info *")
    n = ffi.new("uint32_t *", ffi.sizeof("struct bpf_map_info"))
    check(lib.bpf_obj_get_info_by_fd(fd, info, n), "bpf_obj_get_info_by_fd")
    return info


def verified_insns(fd: int) -> int:
    return int(prog_info(fd).verified_insns)


def obj_get(path: str) -> int:
    return check(lib.bpf_obj_get(path.encode()), f"bpf_obj_get({path})")
