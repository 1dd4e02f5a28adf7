using FashionCnn;
var m = new SmallCnn();
System.Console.WriteLine(m.Parameters.TrainableCount);
