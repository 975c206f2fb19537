// Balanced assignment: every point to one of fixed centres with cluster sizes as equal as they can be (each
// floor(N/K) or ceil(N/K)), the option of c-BTM (Gururangan et al. 2023, "Scaling Expert Language Models with
// Unsupervised Domain Discovery", section 2.2: balanced k-means, so that every expert sees as much data).
//
// c-BTM balances inside its own k-means; ladle keeps faiss's centres and assigns once, greedily: the (point, centre) pairs in increasing squared distance (ties by point,
// then centre), each assigning its point when the point is still free and the centre has room (floor(N/K) places
// each, plus N mod K extra places that the first centres to fill take). Not the optimal assignment, but every
// point goes to the nearest centre that has room when its turn comes, and the sizes differ by at most one.
#pragma once

#include "clustering/float_matrix.h"
#include "clustering/partition.h"

namespace ladle::clustering {

// Reassigns the partition's points (`points`, [N, d], the rows it was made from) to its centroids with balanced
// sizes; sets assignments, sizes, distances (squared L2) and inertia, keeps the centroids. Throws ladle::Error when
// the partition has no centroids or the points differ from its assignments in number.
void balance_partition(Partition& partition, const FloatMatrix& points);

}  // namespace ladle::clustering
