/* The numpy labeller's hot path in C (engine_numpy.py through native.py), bit for bit:
 * the float32 blocked-ray tests of camera_rays.py (capsules_hit, balls_hit, boxes_hit,
 * cylinders_hit), the ray targets of visibility._targets_t, the body's preparation
 * (prepare_capsules, prepare_balls), the exact mesh test (primitives.triangles_crossed) and the
 * body's exact first-hit distances (capsule_distances).
 *
 * Plain C without the Python API, loaded with ctypes by native.py (which checks every shape,
 * type and contiguity before calling). Build flags (setup.py): -ffp-contract=off, so that the
 * compiler fuses no multiply-add the numpy code does not fuse, and -fno-math-errno, so that
 * sqrtf needs no branch and the loops over rays vectorise.
 *
 * Bit-exactness with numpy:
 *  - numpy's float32 matmul of the prepared vectors with the ray directions goes to OpenBLAS;
 *    its AVX-512 kernels (the reference, occpose/_openblas.py) compute each dot product as the
 *    fused chain fma(c2, w2, fma(c1, w1, fma(c0, w0, 0))), which dot3 (and the 9-term chain of
 *    occ_mesh_crossed) reproduces.
 *  - every other operation is one IEEE float32 or float64 operation in numpy's order;
 *    np.maximum and np.minimum propagate NaN and return the second operand on ties (+-0),
 *    np.fmin/np.fmax ignore NaN (npmax, npmin, npfmax, npfmin).
 *  - "0 <= t < t_stop" is the unsigned comparison of the float32 bit patterns (below). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { LATERAL = 0, CAPSULE = 1, BALL = 2, BOX = 3, CYLINDER = 4 };

#ifndef OCC_SOURCE_SHA256
#define OCC_SOURCE_SHA256 "unknown"
#endif
/* sha256 of this file when it was built (setup.py): native.py loads no stale build */
const char *occ_source_sha256(void) { return OCC_SOURCE_SHA256; }

static inline uint32_t bits_of(float x) { uint32_t u; memcpy(&u, &x, sizeof u); return u; }
static inline int below(float t, uint32_t stop) { return bits_of(t) < stop; }
/* np.maximum / np.minimum (NaN wins, ties give b) and np.fmax / np.fmin (NaN loses, ties give
 * b), written as nested selects, a form the loops over them vectorise with. Which NaN comes out
 * does not matter: every NaN fails the comparisons that follow. */
static inline float npmax(float a, float b) { return (a != a) ? a : (a > b ? a : b); }
static inline float npmin(float a, float b) { return (a != a) ? a : (a < b ? a : b); }
static inline float npfmax(float a, float b) { return (b != b) ? a : (a > b ? a : b); }
static inline float npfmin(float a, float b) { return (b != b) ? a : (a < b ? a : b); }

static inline float dot3(float cx, float cy, float cz, float w0, float w1, float w2) {
    float acc = fmaf(cx, w0, 0.0f);
    acc = fmaf(cy, w1, acc);
    return fmaf(cz, w2, acc);
}

/* _ball_hits: t = w.c - sqrt(r^2 - ((w.q1)^2 + (w.q2)^2)) in [0, t_stop) */
static inline int ball_pair(float wc, float wq1, float wq2, float r2, uint32_t stop) {
    float s = wq1 * wq1;
    float u = wq2 * wq2;
    s = s + u;
    s = r2 - s;
    s = sqrtf(s);
    s = wc - s;
    return below(s, stop);
}

/* capsules_hit's lateral surface */
static inline int lateral_pair(float dn, float lat, float wm, float c, float lo, float ln,
                               float r2, uint32_t stop) {
    float h = dn * dn;
    h = 1.0f - h;
    h = h * r2;
    float x = wm * wm;
    h = h - x;
    h = sqrtf(h);
    h = h + lat;
    h = c / h;
    x = h * dn;
    x = x - lo;
    return below(x, bits_of(ln)) & below(h, stop);
}

#define SPAN static inline __attribute__((always_inline)) void

/* One frame's R rays against one primitive: each kind's loop runs over contiguous rays with
 * the primitive's constants in registers and restrict-qualified arrays, branch-free, so that
 * the compiler vectorises it. */
#define RAYS const float *restrict w0, const float *restrict w1, const float *restrict w2, \
    const float *restrict len, const float *restrict tol, uint8_t *restrict out, int n
#define STOP(r) \
    float st = len[r] - tol[r]; \
    st = st < 0.0f ? 0.0f : st; /* np.maximum(st, 0) when negative */ \
    uint32_t stop = bits_of(st);
/* the 3 floats of prepared column c, as scalars v<c>x, v<c>y, v<c>z */
#define COLUMN(c) \
    const float v##c##x = col[3 * c], v##c##y = col[3 * c + 1], v##c##z = col[3 * c + 2];
#define DOT(c, r) dot3(v##c##x, v##c##y, v##c##z, w0[r], w1[r], w2[r])

SPAN span_capsule(RAYS, const float *col, const float *row, int ends) {
    COLUMN(0) COLUMN(1) COLUMN(2) COLUMN(3) COLUMN(4) COLUMN(5) COLUMN(6) COLUMN(7) COLUMN(8)
    const float q0 = row[0], q1 = row[1], q2 = row[2], q3 = row[3];
    for (int r = 0; r < n; r++) {
        STOP(r)
        int hit = lateral_pair(DOT(0, r), DOT(1, r), DOT(2, r), q0, q1, q2, q3, stop);
        if (ends) {  /* the end balls (capsules_hit(..., ends=True)) */
            hit |= ball_pair(DOT(3, r), DOT(4, r), DOT(5, r), q3, stop);
            hit |= ball_pair(DOT(6, r), DOT(7, r), DOT(8, r), q3, stop);
        }
        out[r] = (uint8_t)hit;
    }
}

SPAN span_ball(RAYS, const float *col, const float *row, const float *restrict r2) {
    COLUMN(0) COLUMN(1) COLUMN(2)
    if (r2) {  /* two loops: with "r2 ? r2[r] : row[0]" in one, the second did not vectorise */
        for (int r = 0; r < n; r++) {
            STOP(r)
            out[r] = (uint8_t)ball_pair(DOT(0, r), DOT(1, r), DOT(2, r), r2[r], stop);
        }
        return;
    }
    const float q0 = row[0];
    for (int r = 0; r < n; r++) {
        STOP(r)
        out[r] = (uint8_t)ball_pair(DOT(0, r), DOT(1, r), DOT(2, r), q0, stop);
    }
}

/* one slab of boxes_hit: near and far of lo * inv, hi * inv, inv = 1 / (w . axis) */
#define SLAB(d, lo, hi) \
    float inv##d = 1.0f / DOT(d, r); \
    float ta##d = (lo) * inv##d, tb##d = (hi) * inv##d; \
    float near##d = npmin(ta##d, tb##d), far##d = npmax(ta##d, tb##d);

SPAN span_box(RAYS, const float *col, const float *row) {
    COLUMN(0) COLUMN(1) COLUMN(2)
    const float lo0 = row[0], lo1 = row[1], lo2 = row[2];
    const float hi0 = row[3], hi1 = row[4], hi2 = row[5];
    for (int r = 0; r < n; r++) {
        STOP(r)
        SLAB(0, lo0, hi0)
        SLAB(1, lo1, hi1)
        SLAB(2, lo2, hi2)
        float enter = npmax(npmax(npmax(near0, near1), near2), 0.0f);  /* near.max(axis=0) */
        float leave = npmin(npmin(far0, far1), far2);
        out[r] = (uint8_t)((enter <= leave) & below(enter, stop));
    }
}

SPAN span_cylinder(RAYS, const float *col, const float *row) {
    COLUMN(0) COLUMN(1) COLUMN(2)
    const float c = row[0], lo = row[1], hi = row[2], r2 = row[3];
    for (int r = 0; r < n; r++) {
        STOP(r)
        float dn = DOT(0, r), lat = DOT(1, r), wm = DOT(2, r);
        float qa = dn * dn;
        qa = 1.0f - qa;
        float sq = qa * r2;
        float x = wm * wm;
        sq = sq - x;
        sq = sqrtf(sq);
        sq = sq + lat;
        float enter = c / sq, leave = sq / qa;
        float inv = 1.0f / dn;
        float sa = lo * inv, sb = hi * inv;
        enter = npmax(enter, npfmin(sa, sb));
        enter = npmax(enter, 0.0f);
        leave = npfmin(leave, npfmax(sa, sb));
        out[r] = (uint8_t)((enter <= leave) & below(enter, stop));
    }
}

/* _inside_hits: a camera inside the primitive hits every ray with t_stop > 0 */
SPAN span_inside(RAYS) {
    (void)w0; (void)w1; (void)w2;
    for (int r = 0; r < n; r++) {
        STOP(r)
        out[r] |= stop > 0;
    }
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)
/* Clones for processors with AVX-512 and with AVX2 + FMA (fmaf one vectorised instruction);
 * the default clone calls libm's fmaf, which is exact everywhere. Same results in all. */
#define FMA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FMA_CLONES
#endif
FMA_CLONES
static void run_span(int kind, RAYS, const float *col, const float *row, const float *r2) {
    switch (kind) {
    case LATERAL: span_capsule(w0, w1, w2, len, tol, out, n, col, row, 0); break;
    case CAPSULE: span_capsule(w0, w1, w2, len, tol, out, n, col, row, 1); break;
    case BALL: span_ball(w0, w1, w2, len, tol, out, n, col, row, r2); break;
    case BOX: span_box(w0, w1, w2, len, tol, out, n, col, row); break;
    default: span_cylinder(w0, w1, w2, len, tol, out, n, col, row);
    }
}

/* (T, P, R) uint8 hits of P primitives of one kind against the R rays of T frames.
 *
 * w: (T, 3, R) float32 unit directions; len32: (T, R) float32 ray lengths; stop per pair is
 * len32 - tol (tol: (P, R) float32, or tol_scalar when tol is NULL), clamped at 0.
 * cols: (C, T, P, 3), rows: (Q, T, P) float32 as prepared by camera_rays.py for the kind;
 * r2: (P, R) float32 squared radii replacing rows[0] (balls only) or NULL; inside: (T, P)
 * uint8 camera inside the primitive, or NULL when the kind applies no inside rule.
 * any_out: (T, R) uint8 or-ed with every primitive's hits (out.any(axis=1) |=), or NULL.
 * Returns 0, or -1 when out of memory. */
int occ_hits(int kind, int T, int P, int R, const float *w, const float *len32,
             const float *tol, float tol_scalar, const float *cols, const float *rows,
             const float *r2, const uint8_t *inside, uint8_t *out, uint8_t *any_out) {
    static const int n_cols[] = {3, 9, 3, 3, 3}, n_rows[] = {4, 4, 1, 6, 4};
    int C = n_cols[kind], Q = n_rows[kind];
    float col[27] = {0}, row[6] = {0};
    float *tol_row = NULL;
    if (!tol) {  /* one tolerance for all: a row of it */
        tol_row = malloc((size_t)R * sizeof(float));
        if (!tol_row) return -1;
        for (int r = 0; r < R; r++) tol_row[r] = tol_scalar;
    }
    for (int t = 0; t < T; t++) {
        for (int p = 0; p < P; p++) {
            for (int c = 0; c < C; c++)
                memcpy(col + 3 * c, cols + (((size_t)c * T + t) * P + p) * 3, 3 * sizeof(float));
            for (int q = 0; q < Q; q++) row[q] = rows[((size_t)q * T + t) * P + p];
            const float *wt = w + (size_t)t * 3 * R, *lt = len32 + (size_t)t * R;
            const float *tp = tol ? tol + (size_t)p * R : tol_row;
            uint8_t *o = out + ((size_t)t * P + p) * R;
            run_span(kind, wt, wt + R, wt + 2 * R, lt, tp, o, R, col, row,
                     r2 ? r2 + (size_t)p * R : NULL);
            if (inside && inside[(size_t)t * P + p])
                span_inside(wt, wt + R, wt + 2 * R, lt, tp, o, R);
            if (any_out) {
                uint8_t *restrict a = any_out + (size_t)t * R;
                for (int r = 0; r < R; r++) a[r] |= o[r];
            }
        }
    }
    free(tol_row);
    return 0;
}

/* The rays of visibility._targets_t, normalised as engine_numpy._ray_counts does, in the same
 * float64 operations: for T frames of J joints (T, J, 3), surface radii (J,) and the disk
 * pattern (K, 2), the unit directions dirs (T, 3, R) and lengths (T, R) of the R = J K rays
 * r = j K + k, and their float32 copies w (T, 3, R) and len32 (T, R). */
void occ_targets(int T, int J, int K, const double *joints, const double *radius,
                 const double *disk, double *dirs, double *length, float *w, float *len32) {
    int R = J * K;
    for (int t = 0; t < T; t++) {
        double *dx = dirs + (size_t)t * 3 * R, *dy = dx + R, *dz = dy + R;
        double *lt = length + (size_t)t * R;
        for (int j = 0; j < J; j++) {
            const double *p = joints + ((size_t)t * J + j) * 3;
            double px = p[0], py = p[1], pz = p[2], rj = radius[j];
            double dist = sqrt(px * px + py * py + pz * pz);
            double inv = 1.0 / (dist > 0 ? dist : 1.0);
            double ux = px * inv, uy = py * inv, uz = pz * inv;
            double front = 1.0 - rj * inv;
            double norm = sqrt(ux * ux + uz * uz);
            int ok = norm > 1e-12;
            double inv_norm = ok ? 1.0 / norm : 0.0;
            double e1x = ok ? uz * inv_norm : 1.0, e1z = -ux * inv_norm;
            double e2x = uy * e1z, e2y = uz * e1x - ux * e1z, e2z = -uy * e1x;
            double sx = px * front, sy = py * front, sz = pz * front;
            for (int k = 0; k < K; k++) {
                int r = j * K + k;
                double ox = disk[2 * k] * rj, oy = disk[2 * k + 1] * rj;
                double x = sx + ox * e1x + oy * e2x;
                double y = sy + oy * e2y;
                double z = sz + ox * e1z + oy * e2z;
                double l = sqrt(x * x + y * y + z * z);
                double d = l > 0 ? l : 1.0;
                dx[r] = x / d; dy[r] = y / d; dz[r] = z / d;
                lt[r] = l;
            }
        }
        float *wt = w + (size_t)t * 3 * R;
        for (int i = 0; i < 3 * R; i++) wt[i] = (float)dx[i];
        for (int r = 0; r < R; r++) len32[(size_t)t * R + r] = (float)lt[r];
    }
}

static inline double dot(const double *x, const double *y) {
    return x[0] * y[0] + x[1] * y[1] + x[2] * y[2];
}

/* The float64 capsule constants that camera_rays.prepare_capsules and capsule_distances both
 * compute, in their operations: for the axis a-b and r^2, the unit axis (zero length: the
 * zero vector), a's coordinate along it, a's part across it, |a_perp|^2 - r^2, the moment
 * a x axis, and whether the camera centre (the origin) is inside. */
typedef struct {
    double length, axis[3], a_axis, a_perp[3], cyl_c, moment[3];
    int inside;
} CapsuleFrame;

static inline CapsuleFrame capsule_frame(const double *a, const double *b, double r2) {
    CapsuleFrame g;
    double ba[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    g.length = sqrt(dot(ba, ba));
    double l = g.length > 0 ? g.length : 1.0;
    for (int i = 0; i < 3; i++) g.axis[i] = ba[i] / l;
    const double *x = g.axis;
    g.a_axis = dot(a, x);
    for (int i = 0; i < 3; i++) g.a_perp[i] = a[i] - g.a_axis * x[i];
    g.cyl_c = dot(g.a_perp, g.a_perp) - r2;
    g.moment[0] = a[1] * x[2] - a[2] * x[1];
    g.moment[1] = a[2] * x[0] - a[0] * x[2];
    g.moment[2] = a[0] * x[1] - a[1] * x[0];
    g.inside = (dot(a, a) <= r2) | (dot(b, b) <= r2)
               | ((g.cyl_c <= 0) & (g.a_axis <= 0) & (g.a_axis + g.length >= 0));
    return g;
}

/* camera_rays.capsule_distances, float64, in the same operations: the entry distance of the
 * unit ray d from the origin into the capsule a-b of radius r (0 when the origin is inside,
 * +inf on a miss). */
static double capsule_distance(const double *d, const double *a, const double *b, double r) {
    double r2 = r * r;
    CapsuleFrame g = capsule_frame(a, b, r2);
    double dn = dot(d, g.axis), dm = dot(d, g.moment);
    double h = (1 - dn * dn) * r2 - dm * dm;
    double t1 = g.cyl_c / (dot(d, g.a_perp) + sqrt(h));
    double axial = t1 * dn - g.a_axis;
    double t = ((t1 >= 0) & (axial >= 0) & (axial < g.length)) ? t1 : INFINITY;
    for (int e = 0; e < 2; e++) {
        const double *c = e ? b : a;
        double wc = dot(d, c);
        double t_ball = wc - sqrt(r2 - (dot(c, c) - wc * wc));
        if (t_ball >= 0) t = (t != t) ? t : (t < t_ball ? t : t_ball);  /* np.minimum */
    }
    return g.inside ? 0.0 : t;
}

/* The body part of engine_numpy._object_first: for N rays (unit dirs (N, 3), lengths (N,),
 * frame (N,) and ray index (N,)) and their M blocking (ray, segment) pairs (pair_ray (M,),
 * pair_seg (M,), sorted by ray), t_body (N,) = min over a ray's pairs of the capsule entry
 * distance t where t < length - tol[seg, ray], else +inf. a, b: (T, S, 3) capsule ends;
 * radius (S,); tol (S, R). */
void occ_first_body(int N, long M, int S, int R, const double *dirs, const double *length,
                    const int64_t *frames, const int64_t *rays, const int64_t *pair_ray,
                    const int64_t *pair_seg, const double *a, const double *b,
                    const double *radius, const double *tol, double *t_body) {
    for (int n = 0; n < N; n++) t_body[n] = INFINITY;
    for (long m = 0; m < M; m++) {
        int64_t n = pair_ray[m], s = pair_seg[m];
        size_t at = ((size_t)frames[n] * S + s) * 3;
        double t = capsule_distance(dirs + 3 * n, a + at, b + at, radius[s]);
        double stop = length[n] - tol[(size_t)s * R + rays[n]];
        if (t < stop && t < t_body[n]) t_body[n] = t;
    }
}

/* camera_rays.prepare_capsules(a, b, radius, ends=False) for T frames of P capsules, in the
 * same float64 operations: a, b (T, P, 3), radius (P,); out cols (3, T, P, 3) float32 (axis,
 * a_perp, moment), rows (4, T, P) float32 (cyl_c, a.axis, length, r^2), inside (T, P). */
void occ_prepare_capsules(int T, int P, const double *a, const double *b, const double *radius,
                          float *cols, float *rows, uint8_t *inside) {
    size_t TP = (size_t)T * P;
    for (size_t i = 0; i < TP; i++) {
        double r = radius[i % P], r2 = r * r;
        CapsuleFrame g = capsule_frame(a + 3 * i, b + 3 * i, r2);
        inside[i] = (uint8_t)g.inside;
        float *c0 = cols + 3 * i, *c1 = c0 + 3 * TP, *c2 = c1 + 3 * TP;
        for (int k = 0; k < 3; k++) {
            c0[k] = (float)g.axis[k];
            c1[k] = (float)g.a_perp[k];
            c2[k] = (float)g.moment[k];
        }
        rows[i] = (float)g.cyl_c; rows[TP + i] = (float)g.a_axis;
        rows[2 * TP + i] = (float)g.length; rows[3 * TP + i] = (float)r2;
    }
}

/* camera_rays.prepare_balls(centre, radius) for T frames of P balls, in the same float64
 * operations (_perp_basis): centre (T, P, 3), radius (P,); out cols (3, T, P, 3) float32
 * (centre, q1, q2), rows (1, T, P) float32 (r^2), inside (T, P). */
void occ_prepare_balls(int T, int P, const double *centre, const double *radius, float *cols,
                       float *rows, uint8_t *inside) {
    size_t TP = (size_t)T * P;
    for (size_t i = 0; i < TP; i++) {
        const double *c = centre + 3 * i;
        double r = radius[i % P], r2 = r * r;
        double cc = dot(c, c);
        double length = sqrt(cc);
        int use_x = fabs(c[0]) < 0.6 * length;
        double q0 = use_x ? 0.0 : -c[2], q1 = use_x ? c[2] : 0.0, q2 = use_x ? -c[1] : c[0];
        double qn = sqrt(q0 * q0 + q1 * q1 + q2 * q2);  /* dot(q, q) */
        double s = length / (qn > 1e-300 ? qn : 1e-300);
        q0 = q0 * s; q1 = q1 * s; q2 = q2 * s;
        double m = length > 1e-300 ? length : 1e-300;
        double u0 = (c[1] * q2 - c[2] * q1) / m, u1 = (c[2] * q0 - c[0] * q2) / m;
        double u2 = (c[0] * q1 - c[1] * q0) / m;
        inside[i] = cc <= r2;
        float *c0 = cols + 3 * i, *c1 = c0 + 3 * TP, *c2 = c1 + 3 * TP;
        c0[0] = (float)c[0]; c0[1] = (float)c[1]; c0[2] = (float)c[2];
        c1[0] = (float)q0; c1[1] = (float)q1; c1[2] = (float)q2;
        c2[0] = (float)u0; c2[1] = (float)u1; c2[2] = (float)u2;
        rows[i] = (float)r2;
    }
}

/* primitives.triangles_crossed with a float32 Plucker table (camera_rays.mesh_table), in the
 * same operations: for N rays (origins o and directions d (N, 3) float64, in the mesh's frame,
 * stops t_stop (N,)), whether the ray crosses one of the F triangles at t in [0, t_stop).
 * The ray's Plucker row (d, o x d, o) is rounded to float32 and multiplied by table (9, 5F)
 * as OpenBLAS's reference kernels do (a fused chain over the 9 terms); plane (F,). */
FMA_CLONES
void occ_mesh_crossed(int N, int F, const double *o, const double *d, const double *t_stop,
                      const float *table, const float *plane, uint8_t *out) {
    size_t F5 = (size_t)5 * F;
    for (int n = 0; n < N; n++) {
        const double *on = o + 3 * (size_t)n, *dn = d + 3 * (size_t)n;
        float r[9] = {(float)dn[0], (float)dn[1], (float)dn[2],
                      (float)(on[1] * dn[2] - on[2] * dn[1]),
                      (float)(on[2] * dn[0] - on[0] * dn[2]),
                      (float)(on[0] * dn[1] - on[1] * dn[0]),
                      (float)on[0], (float)on[1], (float)on[2]};
        double stop = t_stop[n];
        int hit = 0;
        for (int f = 0; f < F; f++) {
            float p[5];
            for (int c = 0; c < 5; c++) {
                const float *col = table + (size_t)c * F + f;
                float acc = 0.0f;
                for (int k = 0; k < 9; k++) acc = fmaf(r[k], col[k * F5], acc);
                p[c] = acc;
            }
            float lo = npmin(npmin(p[0], p[1]), p[2]), hi = npmax(npmax(p[0], p[1]), p[2]);
            float t = (plane[f] - p[4]) / p[3];
            hit |= ((lo >= 0) | (hi <= 0)) & (p[3] != 0) & (t >= 0) & ((double)t < stop);
        }
        out[n] = (uint8_t)hit;
    }
}
