// The extern "C" surface of cpp_ref (cref.h). Every function catches everything: no C++
// exception crosses into the caller. Errors leave a thread-local message for cref_error().
#include <exception>
#include <fstream>
#include <new>

#include "common.hpp"
#include "cref.h"

struct cref_file {
    cref::GgufFile file;
};

namespace {

thread_local std::string last_error;

int fail(int code, const std::string &message) {
    try {
        last_error = message;
    } catch (...) {
        // Out of memory for the message itself: keep the status.
    }
    return code;
}

// Run `body`, turning every exception into a status and a message.
template <typename F>
int guarded(const char *fn, F body) {
    try {
        body();
        return CREF_OK;
    } catch (const cref::Error &e) {
        return fail(e.code(), std::string(fn) + ": " + e.what());
    } catch (const std::bad_alloc &) {
        return fail(CREF_ERR_INTERNAL, std::string(fn) + ": out of memory");
    } catch (const std::exception &e) {
        return fail(CREF_ERR_INTERNAL, std::string(fn) + ": unexpected exception: " + e.what());
    } catch (...) {
        return fail(CREF_ERR_INTERNAL, std::string(fn) + ": unexpected non-standard exception");
    }
}

void need(const void *p, const char *what) {
    if (p == nullptr) throw cref::Error(CREF_ERR_ARG, std::string(what) + " is NULL");
}

const cref::Tensor &tensor_at(const cref_file *f, size_t i) {
    need(f, "f");
    if (i >= f->file.tensors.size()) {
        throw cref::Error(CREF_ERR_RANGE, "tensor index " + std::to_string(i) + " is out of range (" +
                                              std::to_string(f->file.tensors.size()) + " tensors)");
    }
    return f->file.tensors[i];
}

}  // namespace

extern "C" {

int cref_open(const char *path, uint32_t policy, cref_file **out) {
    return guarded("cref_open", [&] {
        need(path, "path");
        need(out, "out");
        cref_file *f = new cref_file();
        try {
            std::ifstream in(path, std::ios::binary | std::ios::ate);
            if (!in) throw cref::Error(CREF_ERR_IO, std::string(path) + ": cannot open the file");
            const std::streamoff size = in.tellg();
            if (size < 0) throw cref::Error(CREF_ERR_IO, std::string(path) + ": cannot get the file size");
            f->file.owned.resize(static_cast<size_t>(size));
            in.seekg(0);
            if (size > 0 && !in.read(reinterpret_cast<char *>(f->file.owned.data()), size)) {
                throw cref::Error(CREF_ERR_IO, std::string(path) + ": cannot read the file");
            }
            try {
                cref::parse_gguf(f->file, f->file.owned.data(), f->file.owned.size(), policy);
            } catch (const cref::Error &e) {
                throw cref::Error(e.code(), std::string(path) + ": " + e.what());
            }
        } catch (...) {
            delete f;
            throw;
        }
        *out = f;
    });
}

int cref_open_memory(const uint8_t *data, size_t len, uint32_t policy, cref_file **out) {
    return guarded("cref_open_memory", [&] {
        if (len > 0) need(data, "data");
        need(out, "out");
        static const uint8_t empty[1] = {0};
        cref_file *f = new cref_file();
        try {
            cref::parse_gguf(f->file, data != nullptr ? data : empty, len, policy);
        } catch (...) {
            delete f;
            throw;
        }
        *out = f;
    });
}

void cref_close(cref_file *f) { delete f; }

const char *cref_error(void) { return last_error.c_str(); }

int cref_file_info(const cref_file *f, uint32_t *version, uint64_t *n_kv, uint64_t *alignment,
                   uint64_t *data_offset) {
    return guarded("cref_file_info", [&] {
        need(f, "f");
        need(version, "version");
        need(n_kv, "n_kv");
        need(alignment, "alignment");
        need(data_offset, "data_offset");
        *version = f->file.version;
        *n_kv = f->file.n_kv;
        *alignment = f->file.alignment;
        *data_offset = f->file.data_offset;
    });
}

size_t cref_tensor_count(const cref_file *f) { return f == nullptr ? 0 : f->file.tensors.size(); }

int cref_tensor_info(const cref_file *f, size_t i, const char **name, size_t *name_len,
                     uint32_t *type, uint32_t *disk_type, uint32_t *n_dims, uint64_t ne[4],
                     uint64_t *offset, uint64_t *n_bytes) {
    return guarded("cref_tensor_info", [&] {
        const cref::Tensor &t = tensor_at(f, i);
        need(name, "name");
        need(name_len, "name_len");
        need(type, "type");
        need(disk_type, "disk_type");
        need(n_dims, "n_dims");
        need(ne, "ne");
        need(offset, "offset");
        need(n_bytes, "n_bytes");
        *name = t.name.c_str();
        *name_len = t.name.size();
        *type = t.type;
        *disk_type = t.disk_type;
        *n_dims = t.n_dims;
        for (int j = 0; j < 4; j++) ne[j] = t.ne[j];
        *offset = t.offset;
        *n_bytes = t.n_bytes;
    });
}

int cref_tensor_data(const cref_file *f, size_t i, const uint8_t **data, size_t *len) {
    return guarded("cref_tensor_data", [&] {
        const cref::Tensor &t = tensor_at(f, i);
        need(data, "data");
        need(len, "len");
        // parse_gguf proved data_offset + offset + n_bytes <= size.
        *data = f->file.data + f->file.data_offset + t.offset;
        *len = static_cast<size_t>(t.n_bytes);
    });
}

int cref_tensor_tile(const cref_file *f, size_t i, uint32_t cfg[3]) {
    return guarded("cref_tensor_tile", [&] {
        const cref::Tensor &t = tensor_at(f, i);
        need(cfg, "cfg");
        const auto it = f->file.tiles.find(t.name);
        if (it == f->file.tiles.end()) {
            throw cref::Error(CREF_ERR_NO_TILE, "tensor '" + t.name + "' has no key '" + cref::TILE_KEY_PREFIX +
                                                    t.name + "' (TL1/TL2 tile configuration)");
        }
        if (!it->second.problem.empty()) throw cref::Error(CREF_ERR_NO_TILE, it->second.problem);
        for (int j = 0; j < 3; j++) cfg[j] = it->second.cfg[j];
    });
}

int cref_type_supported(uint32_t type) {
    try {
        return cref::dequantize_supported(type) ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

int cref_dequantize(uint32_t type, const uint8_t *src, size_t src_len, uint64_t n, float *dst) {
    return guarded("cref_dequantize", [&] { cref::dequantize(type, src, src_len, n, dst); });
}

int cref_dequantize_i2s(const uint8_t *src, size_t src_len, uint64_t n, uint32_t group, float *dst) {
    return guarded("cref_dequantize_i2s", [&] { cref::dequantize_i2s(src, src_len, n, group, dst); });
}

int cref_dequantize_tl(uint32_t type, const uint8_t *src, size_t src_len, uint64_t k, uint64_t m,
                       const uint32_t cfg[3], float *dst) {
    return guarded("cref_dequantize_tl", [&] {
        need(cfg, "cfg");
        if (type == cref::T_TL1) {
            cref::dequantize_tl1(src, src_len, m, k, cfg, dst);
        } else if (type == cref::T_TL2) {
            cref::dequantize_tl2(src, src_len, m, k, cfg, dst);
        } else {
            throw cref::Error(CREF_ERR_ARG, "cref_dequantize_tl decodes TL1 (1038) and TL2 (1039), not type " +
                                                std::to_string(type));
        }
    });
}

}  // extern "C"
