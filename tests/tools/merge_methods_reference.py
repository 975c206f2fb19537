"""Independent reference for ladle's SVD and consensus merge methods, from the papers' equations (numpy, float64).

usage: merge_methods_reference.py METHOD FOLDER MODELS PARAMETERS_JSON
FOLDER/model.safetensors holds "base" and "model.0" ... "model.<MODELS-1>" (read with svd_energy_reference's
parser, no ladle or torch code). PARAMETERS_JSON holds the method-wide parameters and "weights" (one per model).
Prints the merged tensor as JSON {"shape": [...], "values": [...]} (row-major).

Methods and sources:
  tsv_m           Gargiulo et al., CVPR 2025, Sec. 4: each task matrix's floor(r/T) leading singular components,
                  concatenated, U and V replaced by their orthonormal polar factors (Eq. 7), recombined.
  iso_c, iso_cts  Marczak et al., ICML 2025, Sec. 4.1 and Algorithm 1: the sum's (common and task-specific)
                  singular directions with every singular value replaced by their mean.
  consensus_ta,   Wang et al., ICML 2024, Eqs. 3 and 5: TALL masks |tau_t| >= lambda |tau_MTL - tau_t|, entries
  consensus_ties  kept where at least k masks agree; tau_MTL from task arithmetic or TIES (Yadav et al. 2023:
                  trim to the top density by magnitude, elect the sign of the sum, disjoint sum or mean).
Tensors that are not matrices take the mean of the weighted task vectors (the SVD methods' code does so).

The ladle methods run their SVDs in float32, so singular values at or below eps32 * max(m, n) * scale (numpy's
matrix_rank rule with float32's epsilon; scale the Frobenius norm of the unprojected matrix, or for the polar factor
its largest singular value) count as zero: their directions are arbitrary and are left out, as ladle documents.
"""
import json
import sys

import numpy as np

from svd_energy_reference import read_tensor

EPS32 = float(np.finfo(np.float32).eps)


def numerical_rank(s, shape, scale):
    return int((s > EPS32 * max(shape) * scale).sum())


def leading(matrix, count, scale):
    u, s, vh = np.linalg.svd(matrix, full_matrices=False)
    kept = min(count, numerical_rank(s, matrix.shape, scale))
    return u[:, :kept], s[:kept], vh[:kept]


def polar_factor(matrix):
    p, s, qh = np.linalg.svd(matrix, full_matrices=False)
    kept = numerical_rank(s, matrix.shape, s[0]) if s.size else 0
    return p[:, :kept] @ qh[:kept]


def tsv_m(tasks, parameters):
    per_task = min(tasks[0].shape) // len(tasks)
    parts = [leading(task, per_task, np.linalg.norm(task)) for task in tasks]
    u = np.concatenate([part[0] for part in parts], axis=1)
    if u.shape[1] == 0:
        return np.zeros_like(tasks[0])
    s = np.concatenate([part[1] for part in parts])
    vh = np.concatenate([part[2] for part in parts], axis=0)
    return polar_factor(u) @ np.diag(s) @ polar_factor(vh)


def isotropic(parts, like):
    s = np.concatenate([part[1] for part in parts])
    if s.size == 0:
        return np.zeros_like(like)
    u = polar_factor(np.concatenate([part[0] for part in parts], axis=1))
    vh = polar_factor(np.concatenate([part[2] for part in parts], axis=0))
    return s.mean() * u @ vh


def iso_c(tasks, parameters):
    total = sum(tasks)
    return isotropic([leading(total, min(total.shape), np.linalg.norm(total))], total)


def iso_cts(tasks, parameters):
    total = sum(tasks)
    r = min(total.shape)
    count = len(tasks)
    common = int(np.floor(r * parameters["common_space_fraction"]))
    per_task = min(round((r - common) / count), r // count)
    common = r - count * per_task
    parts = [leading(total, common, np.linalg.norm(total))]
    common_u = parts[0][0]
    for task in tasks:
        parts.append(leading(task - common_u @ (common_u.T @ task), per_task, np.linalg.norm(task)))
    return isotropic(parts, total)


def top_magnitude(task, density):
    flat = task.reshape(-1)
    kept = max(1, int(density * flat.size)) if density > 0 else 0
    if density >= 1:
        return task
    order = np.argsort(-np.abs(flat), kind="stable")
    trimmed = np.zeros_like(flat)
    trimmed[order[:kept]] = flat[order[:kept]]
    return trimmed.reshape(task.shape)


def multi_task_vector(tasks, weights, parameters, ties):
    normalize = parameters.get("normalize", 0) != 0
    if not ties:
        total = sum(w * t for w, t in zip(weights, tasks))
        return total / sum(weights) if normalize else total
    weighted = [w * top_magnitude(t, parameters["density"]) for w, t in zip(weights, tasks)]
    positive = sum(weighted) >= 0
    agree = [np.where(positive, d > 0, d < 0) for d in weighted]
    total = sum(d * a for d, a in zip(weighted, agree))
    if not normalize:
        return total
    divisor = sum(w * a for w, a in zip(weights, agree))
    return total / np.where(divisor == 0, 1.0, divisor)


def consensus(base, tasks, weights, parameters, ties):
    mtl = multi_task_vector(tasks, weights, parameters, ties)
    votes = sum((np.abs(t) >= parameters["tall_mask_lambda"] * np.abs(mtl - t)).astype(int) for t in tasks)
    return base + parameters.get("lambda", 1.0) * np.where(votes >= parameters["k"], mtl, 0.0)


SPECTRAL = {"tsv_m": tsv_m, "iso_c": iso_c, "iso_cts": iso_cts}


def main():
    method, folder, models, parameters = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
    base = read_tensor(folder, "base")
    # Task vectors as the methods form them: the difference rounded to float32, the working dtype.
    tasks = [(read_tensor(folder, f"model.{i}").astype(np.float32) - base.astype(np.float32)).astype(np.float64)
             for i in range(models)]
    weights = parameters.get("weights", [1.0] * models)
    if method in SPECTRAL:
        weighted = [w * t for w, t in zip(weights, tasks)]
        if base.ndim == 2:
            update = SPECTRAL[method](weighted, parameters)
        else:
            update = sum(weighted) / len(weighted)
        merged = base + parameters.get("alpha", 1.0) * update
    else:
        merged = consensus(base, tasks, weights, parameters, method == "consensus_ties")
    print(json.dumps({"shape": list(merged.shape), "values": merged.reshape(-1).tolist()}))


if __name__ == "__main__":
    main()
