// The C/C++ boundary. pg_guard(fn, args...) runs a PostgreSQL-side function
// (plain C arguments, checked by the compiler) so that an ereport(ERROR)
// becomes a C++ exception (destructors run); cpp_entry() runs C++ code from an
// SQL-callable function and raises the PostgreSQL error only after every C++
// frame and catch scope has closed, keeping the original SQLSTATE.
#pragma once

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

// PostgreSQL's port.h redefines these; they clash with the C++ standard library.
#undef snprintf
#undef vsnprintf
#undef sprintf
#undef vsprintf
#undef fprintf
#undef printf
#undef unlink
#undef bind

#include <exception>
#include <new>
#include <string>
#include <type_traits>

namespace cd {

// A PostgreSQL error caught by pg_call(); edata lives in the caller's memory context.
struct PgError : std::exception {
    explicit PgError(ErrorData *e) : edata(e) {}
    const char *what() const noexcept override {
        return edata && edata->message ? edata->message : "PostgreSQL error";
    }
    ErrorData *edata;
};

// An error raised by this extension's own C++ code. The strings are palloc'd
// (see make_error) so that the exception object is trivially destructible and
// the catch block in cpp_entry never needs to allocate.
struct Error : std::exception {
    int sqlstate;
    const char *message;
    const char *detail; // may be NULL
    const char *hint;   // may be NULL
    const char *what() const noexcept override { return message; }
};

// The caught error, copied into the current memory context, and the error
// state flushed. CopyErrorData can itself fail (out of memory): that second
// error is caught here too and flushed, and the caller gets nullptr, instead
// of a longjmp out of pg_call's catch block past the C++ frames.
inline ErrorData *copy_caught_error() {
    ErrorData *volatile copy = nullptr;
    MemoryContext cxt = CurrentMemoryContext;
    PG_TRY();
    { copy = CopyErrorData(); }
    PG_CATCH();
    { MemoryContextSwitchTo(cxt); }
    PG_END_TRY();
    FlushErrorState();
    return copy;
}

// A PostgreSQL error caught by pg_call() as a C++ exception (PgError, or
// std::bad_alloc when even copying it failed).
[[noreturn]] inline void throw_caught(ErrorData *edata) {
    if (edata)
        throw PgError(edata);
    throw std::bad_alloc();
}

// `result` is written inside PG_TRY and read only when no longjmp happened, so
// -Wclobbered's warning about it does not apply.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wclobbered"
namespace detail {
// Runs f (PostgreSQL calls only: no C++ object with a destructor may be created
// inside f) and turns a PostgreSQL error into PgError.
template <typename F> auto pg_call(F &&f) -> decltype(f()) {
    using R = decltype(f());
    if constexpr (std::is_void_v<R>) {
        pg_call([&] {
            f();
            return 0;
        });
    } else {
        static_assert(std::is_trivially_destructible_v<R>, "pg_call must return plain C values");
        MemoryContext oldcxt = CurrentMemoryContext;
        ErrorData *volatile edata = nullptr;
        volatile bool caught = false;
        R result{};
        PG_TRY();
        { result = f(); }
        PG_CATCH();
        {
            MemoryContextSwitchTo(oldcxt);
            caught = true;
            edata = copy_caught_error();
        }
        PG_END_TRY();
        if (caught)
            throw_caught(edata);
        return result;
    }
}
#pragma GCC diagnostic pop
} // namespace detail

// Calls fn, a PostgreSQL-side function, with arguments the compiler checks are
// plain C values: the only way the C++ code calls PostgreSQL (a lambda could
// create, and an error then skip, a C++ object).
template <typename R, typename... P, typename... A> R pg_guard(R (*fn)(P...), A... args) {
    static_assert((std::is_trivially_copyable_v<A> && ...), "pg_guard takes plain C arguments");
    return detail::pg_call([&]() -> R { return fn(args...); });
}

// Builds an Error with palloc'd copies of the strings (through pg_call).
Error make_error(int sqlstate, const std::string &message, const std::string &detail = "",
                 const std::string &hint = "");

// Runs f, an SQL-callable function body written in C++. Every exception is
// caught; the PostgreSQL error is raised after the catch scope has closed.
template <typename F> Datum cpp_entry(F &&f) {
    ErrorData *pg_error = nullptr;
    const Error *own = nullptr;
    Error own_copy{};
    int sqlstate = 0;
    char message[512];
    message[0] = '\0';
    Datum result = (Datum)0;
    try {
        result = f();
    } catch (const PgError &e) {
        pg_error = e.edata;
    } catch (const Error &e) {
        own_copy = e;
        own = &own_copy;
    } catch (const std::bad_alloc &) {
        sqlstate = ERRCODE_OUT_OF_MEMORY;
        strlcpy(message, "out of memory in cascade_delete", sizeof(message));
    } catch (const std::exception &e) {
        sqlstate = ERRCODE_INTERNAL_ERROR;
        strlcpy(message, e.what(), sizeof(message));
    } catch (...) {
        sqlstate = ERRCODE_INTERNAL_ERROR;
        strlcpy(message, "unknown C++ exception", sizeof(message));
    }
    if (pg_error)
        ReThrowError(pg_error);
    if (own)
        ereport(ERROR, (errcode(own->sqlstate), errmsg("%s", own->message),
                        own->detail ? errdetail("%s", own->detail) : 0,
                        own->hint ? errhint("%s", own->hint) : 0));
    if (sqlstate)
        ereport(ERROR, (errcode(sqlstate), errmsg_internal("cascade_delete: %s", message)));
    return result;
}

} // namespace cd
