/**
 * @file bitgguf.hpp
 * @brief Header-only C++17 RAII wrapper over the C API of bitgguf.h.
 *
 * - bitgguf::Model owns one reference to a ::bg_model (move-only; `share()` takes another
 *   reference with bg_model_retain). Pointers and views it returns (tensor names, Bytes,
 *   metadata strings) stay valid until the last reference to the model is released.
 * - bitgguf::LoadOptions owns a ::bg_load_options (move-only); its setters chain.
 * - Errors: the throwing functions throw bitgguf::Error (status() + what() = the library's
 *   detailed message from bg_last_error_message). `Model::try_load` / `try_load_from_memory`
 *   return a bitgguf::Result<Model> instead of throwing.
 *
 * Nothing here adds behaviour: every call maps to one C function documented in bitgguf.h.
 */
#ifndef BITGGUF_HPP
#define BITGGUF_HPP

#include "bitgguf.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bitgguf {

/** This thread's last error message (bg_last_error_message), or "" when there is none. */
inline std::string last_error_message() {
  size_t len = 0;
  bg_status s = bg_last_error_message(nullptr, 0, &len);
  if (s != BG_STATUS_OK && s != BG_STATUS_INSUFFICIENT_SIZE) return std::string();
  if (len == 0) return std::string();
  std::string msg(len + 1, '\0');
  size_t got = 0;
  if (bg_last_error_message(&msg[0], msg.size(), &got) != BG_STATUS_OK) return std::string();
  msg.resize(got);
  return msg;
}

/** A failed call: the ::bg_status and the library's detailed message. */
class Error : public std::runtime_error {
 public:
  /** An error with `status` and `message` (what()). */
  Error(bg_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  /** The status code (never BG_STATUS_OK). */
  bg_status status() const noexcept { return status_; }
  /** bg_status_str() of the status: a short static description. */
  const char* status_str() const noexcept { return bg_status_str(static_cast<uint32_t>(status_)); }

 private:
  bg_status status_;
};

namespace detail {
/** The Error for a failed call, with the thread's last message (prefixed with the call's name). */
inline Error make_error(bg_status s, const char* call) {
  std::string msg = last_error_message();
  if (msg.empty()) msg = bg_status_str(static_cast<uint32_t>(s));
  if (msg.compare(0, std::strlen(call), call) == 0) return Error(s, msg);  // already names the call
  return Error(s, std::string(call) + ": " + msg);
}
/** Throw make_error(s, call) unless s is BG_STATUS_OK. */
inline void check(bg_status s, const char* call) {
  if (s != BG_STATUS_OK) throw make_error(s, call);
}
}  // namespace detail

/**
 * A value or an error, for callers that do not use exceptions on a path. `value()` throws the
 * Error when there is none; `operator*` / `operator->` require ok().
 */
template <class T>
class Result {
 public:
  /** A value. */
  Result(T value) : value_(std::move(value)), status_(BG_STATUS_OK) {}  // NOLINT: implicit
  /** An error. */
  Result(Error error) : status_(error.status()), message_(error.what()) {}  // NOLINT: implicit

  /** Whether there is a value. */
  bool ok() const noexcept { return value_.has_value(); }
  /** ok(). */
  explicit operator bool() const noexcept { return ok(); }
  /** BG_STATUS_OK, or the error's status. */
  bg_status status() const noexcept { return status_; }
  /** "" on success, otherwise the error's message. */
  const std::string& message() const noexcept { return message_; }

  /** The value; throws the Error when there is none. */
  T& value() & {
    if (!ok()) throw Error(status_, message_);
    return *value_;
  }
  /** The value, moved out; throws the Error when there is none. */
  T&& value() && {
    if (!ok()) throw Error(status_, message_);
    return std::move(*value_);
  }
  /** The value (requires ok()). */
  T& operator*() & { return *value_; }
  /** The value (requires ok()). */
  T* operator->() { return &*value_; }
  /** The value (requires ok()). */
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  bg_status status_;
  std::string message_;
};

/** A borrowed byte range (the C++17 stand-in for std::span<const uint8_t>). */
class Bytes {
 public:
  /** An empty range. */
  Bytes() = default;
  /** `size` bytes at `data`. */
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  /** The first byte. */
  const uint8_t* data() const noexcept { return data_; }
  /** The number of bytes. */
  size_t size() const noexcept { return size_; }
  /** size() == 0. */
  bool empty() const noexcept { return size_ == 0; }
  /** Iteration. */
  const uint8_t* begin() const noexcept { return data_; }
  /** Iteration. */
  const uint8_t* end() const noexcept { return data_ + size_; }
  /** Byte `i` (unchecked). */
  uint8_t operator[](size_t i) const noexcept { return data_[i]; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

/** A tensor's description (a ::bg_tensor_desc plus its index); views borrow from the model. */
struct TensorInfo {
  size_t index = 0;  /**< The tensor's index in the model. */
  std::string_view name;  /**< The name (borrowed from the model). */
  uint32_t type = 0;       /**< API type id (BG_TYPE_*). */
  uint32_t disk_type = 0;  /**< The id as written in the file. */
  uint32_t n_dims = 0;  /**< Dimensions as written (0-4). */
  uint32_t shard = 0;  /**< Which file of a split model holds the data. */
  std::array<uint64_t, 4> ne{};  /**< ne[0] innermost (the row length). */
  uint64_t n_elements = 0;  /**< Number of elements. */
  uint64_t offset = 0;  /**< Offset in the file's data section. */
  uint64_t n_bytes = 0;  /**< Size of the packed data in bytes. */
  /** bg_type_name(type): "q4_k", "i2_s", ... ("?" for an unknown id). */
  const char* type_name() const noexcept {
    const char* n = bg_type_name(type);
    return n ? n : "?";
  }
  /** Rows (n_elements / ne[0]). */
  uint64_t n_rows() const noexcept { return ne[0] ? n_elements / ne[0] : 0; }
};

/** The library version string (bg_version). */
inline const char* version() noexcept { return bg_version(); }
/** The ABI version of the loaded library; compare with BG_ABI_VERSION. */
inline uint32_t abi_version() noexcept { return bg_abi_version(); }
/** A type id's name, or nullptr for an unknown id. */
inline const char* type_name(uint32_t type_id) noexcept { return bg_type_name(type_id); }

/** Load options (move-only builder; configure from one thread). */
class LoadOptions {
 public:
  /** Progress callback: return false to cancel the load (BG_STATUS_CANCELLED). */
  using ProgressFn = std::function<bool(const bg_progress&)>;

  /** The defaults (bg_load_options_new). */
  LoadOptions() : opts_(bg_load_options_new()) {
    if (!opts_) throw detail::make_error(BG_STATUS_PANIC, "bg_load_options_new");
  }
  /** Move (the source becomes empty). */
  LoadOptions(LoadOptions&& o) noexcept : opts_(std::exchange(o.opts_, nullptr)), progress_(std::move(o.progress_)) {}
  /** Move (the source becomes empty). */
  LoadOptions& operator=(LoadOptions&& o) noexcept {
    if (this != &o) {
      bg_load_options_free(opts_);
      opts_ = std::exchange(o.opts_, nullptr);
      progress_ = std::move(o.progress_);
    }
    return *this;
  }
  LoadOptions(const LoadOptions&) = delete;
  LoadOptions& operator=(const LoadOptions&) = delete;
  /** bg_load_options_free. */
  ~LoadOptions() { bg_load_options_free(opts_); }

  /** Map the file (true, default) or read it into memory. */
  LoadOptions& use_mmap(bool on) {
    detail::check(bg_load_options_set_use_mmap(opts_, on), "bg_load_options_set_use_mmap");
    return *this;
  }
  /** BG_TYPE_POLICY_*. */
  LoadOptions& type_policy(uint32_t policy) {
    detail::check(bg_load_options_set_type_policy(opts_, policy), "bg_load_options_set_type_policy");
    return *this;
  }
  /** BG_LIMIT_*. */
  LoadOptions& limit(uint32_t which, uint64_t value) {
    detail::check(bg_load_options_set_limit(opts_, which, value), "bg_load_options_set_limit");
    return *this;
  }
  /** TL1/TL2 tile configuration (BM, BK, bm) for tensors without a recorded one. */
  LoadOptions& tl_config(uint32_t bm, uint32_t bk, uint32_t bm_small) {
    detail::check(bg_load_options_set_tl_config(opts_, bm, bk, bm_small), "bg_load_options_set_tl_config");
    return *this;
  }
  /** One of bitnet.cpp's shipped TL tile tables (bg_load_options_set_tl_preset). */
  LoadOptions& tl_preset(const std::string& name) {
    detail::check(bg_load_options_set_tl_preset(opts_, name.c_str()), "bg_load_options_set_tl_preset");
    return *this;
  }
  /** BG_I2S_LAYOUT_*. */
  LoadOptions& i2s_layout(uint32_t layout) {
    detail::check(bg_load_options_set_i2s_layout(opts_, layout), "bg_load_options_set_i2s_layout");
    return *this;
  }
  /** BG_STRATEGY_*. */
  LoadOptions& strategy(uint32_t s) {
    detail::check(bg_load_options_set_strategy(opts_, s), "bg_load_options_set_strategy");
    return *this;
  }
  /** BG_OUTPUT_PACKED or BG_TYPE_F32/F16/BF16 for the tensors of `role` (BG_ROLE_*). */
  LoadOptions& output_type(uint32_t role, uint32_t type) {
    detail::check(bg_load_options_set_output_type(opts_, role, type), "bg_load_options_set_output_type");
    return *this;
  }
  /**
   * Report progress to `fn` (an empty function removes it). An exception thrown by `fn`
   * cancels the load (it cannot cross the C library) and is not rethrown.
   */
  LoadOptions& progress(ProgressFn fn) {
    if (!fn) {
      detail::check(bg_load_options_set_progress(opts_, nullptr, nullptr), "bg_load_options_set_progress");
      progress_.reset();
      return *this;
    }
    auto holder = std::make_unique<ProgressFn>(std::move(fn));
    detail::check(bg_load_options_set_progress(opts_, &LoadOptions::trampoline, holder.get()),
                  "bg_load_options_set_progress");
    progress_ = std::move(holder);
    return *this;
  }

  /** The C handle (still owned by this object). */
  const bg_load_options* get() const noexcept { return opts_; }  ///< The C handle.
  bg_load_options* get() noexcept { return opts_; }  ///< The C handle.

 private:
  static bool trampoline(const bg_progress* p, void* user) noexcept {
    try {
      return (*static_cast<ProgressFn*>(user))(*p);
    } catch (...) {
      return false;
    }
  }
  bg_load_options* opts_;
  std::unique_ptr<ProgressFn> progress_;  // stable address for the C callback's user_data
};

/** A loaded model: one reference to a ::bg_model (move-only). */
class Model {
 public:
  /** Take ownership of a reference (e.g. from bg_load). */
  explicit Model(bg_model* m) noexcept : m_(m) {}
  /** Move (the source becomes empty). */
  Model(Model&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  /** Move (releases this object's reference first). */
  Model& operator=(Model&& o) noexcept {
    if (this != &o) {
      bg_free(m_);
      m_ = std::exchange(o.m_, nullptr);
    }
    return *this;
  }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  /** Release this reference (bg_free). */
  ~Model() { bg_free(m_); }

  /** bg_load; `options` may be null for the defaults. Throws Error. */
  static Model load(const std::string& path, const LoadOptions* options = nullptr) {
    bg_model* m = nullptr;
    detail::check(bg_load(path.c_str(), options ? options->get() : nullptr, &m), "bg_load");
    return Model(m);
  }
  /** bg_load with options. Throws Error. */
  static Model load(const std::string& path, const LoadOptions& options) { return load(path, &options); }
  /** bg_load_from_memory (the bytes are copied). Throws Error. */
  static Model load_from_memory(const void* data, size_t len, const LoadOptions* options = nullptr) {
    bg_model* m = nullptr;
    detail::check(bg_load_from_memory(static_cast<const uint8_t*>(data), len, options ? options->get() : nullptr, &m),
                  "bg_load_from_memory");
    return Model(m);
  }
  /** As load, without throwing. */
  static Result<Model> try_load(const std::string& path, const LoadOptions* options = nullptr) {
    bg_model* m = nullptr;
    bg_status s = bg_load(path.c_str(), options ? options->get() : nullptr, &m);
    if (s != BG_STATUS_OK) return detail::make_error(s, "bg_load");
    return Model(m);
  }
  /** As load_from_memory, without throwing. */
  static Result<Model> try_load_from_memory(const void* data, size_t len, const LoadOptions* options = nullptr) {
    bg_model* m = nullptr;
    bg_status s = bg_load_from_memory(static_cast<const uint8_t*>(data), len, options ? options->get() : nullptr, &m);
    if (s != BG_STATUS_OK) return detail::make_error(s, "bg_load_from_memory");
    return Model(m);
  }

  /** Another owner of the same model (bg_model_retain). */
  Model share() const noexcept { return Model(bg_model_retain(m_)); }
  /** The C handle (still owned by this object). */
  const bg_model* get() const noexcept { return m_; }
  /** Give up ownership: the caller must bg_free the result. */
  bg_model* release() noexcept { return std::exchange(m_, nullptr); }
  /** Whether this object holds a model. */
  explicit operator bool() const noexcept { return m_ != nullptr; }

  // ---- tensors ------------------------------------------------------------------------------
  /** Number of tensors. */
  size_t tensor_count() const noexcept { return bg_tensor_count(m_); }
  /** The tensor's index, or nullopt when there is no such tensor. */
  std::optional<size_t> find_tensor(const std::string& name) const {
    size_t i = 0;
    bg_status s = bg_tensor_find(m_, name.c_str(), &i);
    if (s == BG_STATUS_NOT_FOUND) return std::nullopt;
    detail::check(s, "bg_tensor_find");
    return i;
  }
  /** Describe tensor `index`. Throws Error (BG_STATUS_INDEX_OUT_OF_RANGE). */
  TensorInfo tensor(size_t index) const {
    bg_tensor_desc d{};
    detail::check(bg_tensor_info(m_, index, &d), "bg_tensor_info");
    TensorInfo t;
    t.index = index;
    t.name = std::string_view(d.name, d.name_len);
    t.type = d.type_id;
    t.disk_type = d.disk_type;
    t.n_dims = d.n_dims;
    t.shard = d.shard;
    for (size_t k = 0; k < 4; ++k) t.ne[k] = d.ne[k];
    t.n_elements = d.n_elements;
    t.offset = d.offset;
    t.n_bytes = d.n_bytes;
    return t;
  }
  /** Throws Error(BG_STATUS_NOT_FOUND) when missing. */
  TensorInfo tensor(const std::string& name) const {
    size_t i = 0;
    detail::check(bg_tensor_find(m_, name.c_str(), &i), "bg_tensor_find");
    return tensor(i);
  }

  /** Iteration over the tensors (see tensors()): `for (const bitgguf::TensorInfo& t : model.tensors())`. */
  class TensorRange {
   public:
    /** An input iterator producing TensorInfo values. */
    class iterator {
     public:
      using value_type = TensorInfo;  ///< Iterator traits.
      using difference_type = std::ptrdiff_t;  ///< Iterator traits.
      using pointer = const TensorInfo*;  ///< Iterator traits.
      using reference = TensorInfo;  ///< Iterator traits.
      using iterator_category = std::input_iterator_tag;  ///< Iterator traits.
      /** At tensor `i` of `*m`. */
      iterator(const Model* m, size_t i) : m_(m), i_(i) {}
      /** The current tensor. */
      TensorInfo operator*() const { return m_->tensor(i_); }
      /** The next tensor. */
      iterator& operator++() {
        ++i_;
        return *this;
      }
      /** Same position. */
      bool operator==(const iterator& o) const { return i_ == o.i_; }
      /** Different positions. */
      bool operator!=(const iterator& o) const { return i_ != o.i_; }

     private:
      const Model* m_;
      size_t i_;
    };
    /** The tensors of `*m`. */
    explicit TensorRange(const Model* m) : m_(m) {}
    /** The first tensor. */
    iterator begin() const { return iterator(m_, 0); }
    /** Past the last tensor. */
    iterator end() const { return iterator(m_, m_->tensor_count()); }
    /** Number of tensors. */
    size_t size() const { return m_->tensor_count(); }

   private:
    const Model* m_;
  };
  /** All tensors, in file order. */
  TensorRange tensors() const { return TensorRange(this); }

  /** Zero-copy bytes of tensor `index` (bg_tensor_data): valid while the model lives. */
  Bytes data(size_t index) const {
    const uint8_t* p = nullptr;
    size_t n = 0;
    detail::check(bg_tensor_data(m_, index, &p, &n), "bg_tensor_data");
    return Bytes(p, n);
  }

  /** Decode tensor `index` to f32 (bg_tensor_dequantize). */
  std::vector<float> dequantize(size_t index) const { return decode<float>(index, BG_TYPE_F32); }
  /** Decode tensor `index` to IEEE binary16 bits. */
  std::vector<uint16_t> dequantize_f16(size_t index) const { return decode<uint16_t>(index, BG_TYPE_F16); }
  /** Decode tensor `index` to bfloat16 bits. */
  std::vector<uint16_t> dequantize_bf16(size_t index) const { return decode<uint16_t>(index, BG_TYPE_BF16); }
  /** Decode rows [row_start, row_start + n_rows) of tensor `index` to f32. */
  std::vector<float> dequantize_rows(size_t index, uint64_t row_start, uint64_t n_rows) const {
    TensorInfo t = tensor(index);
    std::vector<float> out(static_cast<size_t>(n_rows * t.ne[0]));
    detail::check(bg_tensor_dequantize_rows(m_, index, row_start, n_rows, BG_TYPE_F32, out.data(),
                                            out.size() * sizeof(float)),
                  "bg_tensor_dequantize_rows");
    return out;
  }

  // ---- metadata -----------------------------------------------------------------------------
  /** Number of metadata pairs. */
  size_t meta_count() const noexcept { return bg_meta_count(m_); }
  /** The key's index, or nullopt when absent. */
  std::optional<size_t> find_meta(const std::string& key) const {
    size_t i = 0;
    bg_status s = bg_meta_find(m_, key.c_str(), &i);
    if (s == BG_STATUS_NOT_FOUND) return std::nullopt;
    detail::check(s, "bg_meta_find");
    return i;
  }
  /** Whether the key exists. */
  bool has_meta(const std::string& key) const { return find_meta(key).has_value(); }
  /** Describe metadata pair `index` (key, value type, array type and length). */
  bg_meta_desc meta_info(size_t index) const {
    bg_meta_desc d{};
    detail::check(bg_meta_info(m_, index, &d), "bg_meta_info");
    return d;
  }
  /** A string value, zero-copy (not NUL-terminated; valid while the model lives). */
  std::string_view meta_string(const std::string& key) const {
    const char* s = nullptr;
    size_t n = 0;
    detail::check(bg_meta_get_str(m_, meta_index(key), &s, &n), "bg_meta_get_str");
    return std::string_view(s, n);
  }
  /** Any non-negative integer value <= max (bg_meta_get_uint). */
  uint64_t meta_uint(const std::string& key, uint64_t max = std::numeric_limits<uint64_t>::max()) const {
    uint64_t v = 0;
    detail::check(bg_meta_get_uint(m_, meta_index(key), max, &v), "bg_meta_get_uint");
    return v;
  }
  // Typed metadata getters: throw Error (BG_STATUS_NOT_FOUND, BG_STATUS_TYPE_MISMATCH).
  /** The u32 value of `key`. */
  uint32_t meta_u32(const std::string& key) const { return get<uint32_t>(key, &bg_meta_get_u32, "bg_meta_get_u32"); }
  /** The i32 value of `key`. */
  int32_t meta_i32(const std::string& key) const { return get<int32_t>(key, &bg_meta_get_i32, "bg_meta_get_i32"); }
  /** The u64 value of `key`. */
  uint64_t meta_u64(const std::string& key) const { return get<uint64_t>(key, &bg_meta_get_u64, "bg_meta_get_u64"); }
  /** The i64 value of `key`. */
  int64_t meta_i64(const std::string& key) const { return get<int64_t>(key, &bg_meta_get_i64, "bg_meta_get_i64"); }
  /** The f32 value of `key`. */
  float meta_f32(const std::string& key) const { return get<float>(key, &bg_meta_get_f32, "bg_meta_get_f32"); }
  /** The f64 value of `key`. */
  double meta_f64(const std::string& key) const { return get<double>(key, &bg_meta_get_f64, "bg_meta_get_f64"); }
  /** The bool value of `key`. */
  bool meta_bool(const std::string& key) const { return get<bool>(key, &bg_meta_get_bool, "bg_meta_get_bool"); }
  /** Element `elem` of a string array, zero-copy. */
  std::string_view meta_array_string(const std::string& key, uint64_t elem) const {
    const char* s = nullptr;
    size_t n = 0;
    detail::check(bg_meta_get_arr_str(m_, meta_index(key), elem, &s, &n), "bg_meta_get_arr_str");
    return std::string_view(s, n);
  }

 private:
  template <class T>
  std::vector<T> decode(size_t index, uint32_t type) const {
    size_t bytes = 0;
    detail::check(bg_tensor_dequantized_size(m_, index, type, &bytes), "bg_tensor_dequantized_size");
    std::vector<T> out(bytes / sizeof(T));
    detail::check(bg_tensor_dequantize(m_, index, type, out.data(), out.size() * sizeof(T)), "bg_tensor_dequantize");
    return out;
  }
  size_t meta_index(const std::string& key) const {
    size_t i = 0;
    detail::check(bg_meta_find(m_, key.c_str(), &i), "bg_meta_find");
    return i;
  }
  template <class T>
  T get(const std::string& key, bg_status (*fn)(const bg_model*, size_t, T*), const char* call) const {
    T v{};
    detail::check(fn(m_, meta_index(key), &v), call);
    return v;
  }

  bg_model* m_;
};

}  // namespace bitgguf

#endif  // BITGGUF_HPP
